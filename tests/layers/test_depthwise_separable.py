"""`DepthwiseConvND` and `SeparableConvND`: the NumPy reference at ranks 1-5 (every padding form and mode,
dilation with strides, both algorithms), Keras's own layers at ranks 1-2, float64 gradients,
parametrizations, configs and `.keras` files, and bad arguments."""

import json

import keras
import numpy as np
import pytest
import reference
from layers.helpers import (
    add_bias,
    assert_close,
    autodiff,
    join_shape,
    run_layer_test,
    set_random_weights,
    tensor,
    to_numpy,
)

import structconv.layers as sl
from structconv.errors import StructconvError


def depthwise_reference(x, kernel, strides, pairs, dilation, mode, data_format):
    """Depthwise convolution as NumPy grouped convolution: `(*k, c, m)` is `(*k, 1, c * m)` in `c` groups."""
    kernel = np.asarray(kernel)
    channels = kernel.shape[-2]
    grouped = kernel.reshape(*kernel.shape[:-2], 1, channels * kernel.shape[-1])
    return reference.conv_reference(x, grouped, strides, pairs, dilation, channels, mode, data_format)


def pointwise_reference(y, kernel, data_format):
    y = reference.to_channels_last(y) if data_format == "channels_first" else y
    out = y @ np.asarray(kernel).reshape(kernel.shape[-2:])
    return reference.to_channels_first(out) if data_format == "channels_first" else out


# (spatial, kernel_size, arguments)
CASES = {
    "rank1_causal_reflect": (
        (9,), 3, {"padding": "causal", "padding_mode": "reflect", "depth_multiplier": 2}
    ),
    "rank2_strided_dilated": ((9, 8), (3, 2), {"strides": 2, "dilation_rate": (2, 1), "padding": "same"}),
    "rank3_full_circular": ((5, 4, 5), 2, {"padding": "full", "padding_mode": "circular"}),
    "rank4_pairs_replicate": (
        (4, 5, 4, 3), (2, 3, 1, 2),
        {"padding": ((1, 0), "same", 0, (0, 1)), "padding_mode": "replicate", "depth_multiplier": 2},
    ),
    "rank5_valid": ((3, 4, 3, 3, 4), 2, {"strides": (1, 2, 1, 1, 2)}),
}


def _expected(kind, spatial, kernel_size, arguments, data_format):
    rank = len(spatial)
    kernel_size = reference.expand(kernel_size, rank)
    strides = arguments.get("strides", 1)
    dilation = arguments.get("dilation_rate", 1)
    padding = arguments.get("padding", "valid")
    pairs = reference.padding_pairs(padding, spatial, kernel_size, strides, dilation)
    mode = arguments.get("padding_mode", "zeros")

    def expected(x, weights):
        y = depthwise_reference(x, weights[0], strides, pairs, dilation, mode, data_format)
        if kind == "separable":
            y = pointwise_reference(y, weights[1], data_format)
        return add_bias(y, weights[-1], data_format)

    return expected


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("algorithm", ["direct", "fft"])
@pytest.mark.parametrize("kind", ["depthwise", "separable"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_numpy(case, kind, algorithm, data_format):
    spatial, kernel_size, arguments = CASES[case]
    rank = len(spatial)
    common = {"data_format": data_format, "algorithm": algorithm, "dtype": "float64", **arguments}
    if kind == "depthwise":
        layer = sl.DepthwiseConvND(kernel_size, rank=rank, **common)
    else:
        layer = sl.SeparableConvND(3, kernel_size, rank=rank, **common)
    shape = join_shape(2, spatial, 2, data_format)
    run_layer_test(
        layer, shape, _expected(kind, spatial, kernel_size, arguments, data_format), np.random.default_rng(0)
    )


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize("kind", ["Depthwise", "Separable"])
def test_ranks_1_and_2_equal_keras(kind, rank, data_format):
    shape = join_shape(2, (9,) * rank, 3, data_format)
    x = np.random.default_rng(rank).standard_normal(shape).astype("float32")
    for arguments in (
        {"kernel_size": 3, "padding": "same", "depth_multiplier": 2, "activation": "relu"},
        {"kernel_size": 2, "strides": 2, "use_bias": False},
        {"kernel_size": 3, "dilation_rate": 2},
    ):
        arguments = {"data_format": data_format, **arguments}
        if kind == "Separable":
            arguments["filters"] = 4
        theirs = getattr(keras.layers, f"{kind}Conv{rank}D")(**arguments)
        ours = getattr(sl, f"{kind}Conv{rank}D")(**arguments)
        expected = to_numpy(theirs(x))
        ours.build(x.shape)
        assert [w.shape for w in ours.weights] == [w.shape for w in theirs.weights]
        assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
        ours.set_weights(theirs.get_weights())
        assert_close(ours(x), expected, rtol=1e-5)
        assert tuple(ours.compute_output_shape(x.shape)) == tuple(theirs.compute_output_shape(x.shape))


@pytest.mark.parametrize("kind", ["depthwise", "separable"])
def test_float64_gradients_against_finite_differences(kind):
    spatial, kernel_size = (4, 3, 4), (2, 3, 2)
    arguments = {"strides": (2, 1, 1), "dilation_rate": (1, 1, 2), "padding": "same", "depth_multiplier": 2,
                 "padding_mode": "reflect"}
    if kind == "depthwise":
        layer = sl.DepthwiseConv3D(kernel_size, dtype="float64", **arguments)
    else:
        layer = sl.SeparableConv3D(2, kernel_size, dtype="float64", **arguments)
    rng = np.random.default_rng(0)
    shape = (2, *spatial, 2)
    weights = set_random_weights(layer, shape, rng)
    x = rng.standard_normal(shape)
    cotangent = rng.standard_normal(layer.compute_output_shape(shape))
    forward = _expected(kind, spatial, kernel_size, arguments, "channels_last")
    grad_x, grad_weights = autodiff(layer, x, cotangent)

    def loss(x_value, values):
        return np.sum(forward(x_value, values) * cotangent)

    np.testing.assert_allclose(grad_x, reference.numerical_gradient(lambda v: loss(v, weights), x), atol=1e-6)
    for index, gradient in enumerate(grad_weights):
        def replaced(value, index=index):
            return loss(x, [value if i == index else w for i, w in enumerate(weights)])

        np.testing.assert_allclose(
            gradient, reference.numerical_gradient(replaced, weights[index]), atol=1e-6, rtol=1e-6
        )


def test_parametrized_kernel_regularizers_penalise_the_effective_kernels_in_call():
    layer = sl.SeparableConvND(
        2, (3, 3), depthwise_parametrization="zero_sum", pointwise_parametrization="non_neg",
        depthwise_regularizer=keras.regularizers.L2(0.5), pointwise_regularizer=keras.regularizers.L1(0.25),
    )
    x = np.random.default_rng(0).standard_normal((1, 6, 6, 2)).astype("float32")
    layer(x)
    depthwise, pointwise = to_numpy(layer.depthwise_kernel), to_numpy(layer.pointwise_kernel)
    expected = 0.5 * np.sum(depthwise**2) + 0.25 * np.sum(np.abs(pointwise))
    np.testing.assert_allclose(sum(float(to_numpy(loss)) for loss in layer.losses), expected, rtol=1e-5)
    assert len(layer.losses) == 2  # reading the kernels above added none


def test_parametrizations_hold_on_each_kernel():
    layer = sl.SeparableConvND(
        3, (3, 3, 3, 3), depthwise_parametrization="zero_sum", pointwise_parametrization="non_neg",
        depth_multiplier=2,
    )
    x = np.random.default_rng(0).standard_normal((1, 5, 5, 5, 5, 2)).astype("float32")
    y = layer(x)
    names = [w.name for w in layer.trainable_weights]
    assert names == ["free_depthwise_kernel", "free_pointwise_kernel", "bias"]
    np.testing.assert_allclose(to_numpy(layer.depthwise_kernel).sum(axis=(0, 1, 2, 3)), 0.0, atol=1e-5)
    assert np.all(to_numpy(layer.pointwise_kernel) >= 0)
    weights = [to_numpy(layer.depthwise_kernel), to_numpy(layer.pointwise_kernel), to_numpy(layer.bias)]
    expected = _expected("separable", (5, 5, 5, 5), 3, {"depth_multiplier": 2}, "channels_last")(x, weights)
    assert_close(y, expected, rtol=1e-4)
    with pytest.raises(StructconvError, match="values"):
        layer.assign_depthwise_kernel(np.ones((3, 3, 3, 3, 2, 2)))
    layer.assign_depthwise_kernel(np.ones((3, 3, 3, 3, 2, 2)), project=True)
    np.testing.assert_allclose(to_numpy(layer.depthwise_kernel), 0.0, atol=1e-6)


ROUND_TRIP = {
    "DepthwiseConvND": {"kernel_size": (2, 3, 2, 2), "depth_multiplier": 2,
                        "padding": ("causal", 1, "same", 0), "padding_mode": "circular",
                        "depthwise_parametrization": "zero_sum", "activation": "tanh"},
    "SeparableConvND": {"filters": 3, "kernel_size": 2, "rank": 4, "strides": 2, "dilation_rate": 2,
                        "padding": "same", "pointwise_parametrization": "unit_norm", "algorithm": "fft",
                        "data_format": "channels_first"},
    "DepthwiseConv2D": {"kernel_size": 3, "padding": "same", "depthwise_regularizer": "l2"},
    "SeparableConv4D": {"filters": 2, "kernel_size": 2, "pointwise_constraint": "non_neg"},
}


def _round_trip(name):
    arguments = ROUND_TRIP[name]
    layer = getattr(sl, name)(**arguments)
    spatial = (4, 5) if name.endswith("2D") else (4, 5, 4, 5)
    x = np.random.default_rng(1).standard_normal(
        join_shape(2, spatial, 2, arguments.get("data_format", "channels_last"))
    ).astype("float32")
    return layer, x


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_config_json_and_keras_file_round_trips(name, tmp_path):
    layer, x = _round_trip(name)
    y = to_numpy(layer(x))
    clone = type(layer).from_config(layer.get_config())
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_allclose(to_numpy(clone(x)), y, rtol=1e-6, atol=1e-6)
    payload = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    assert type(keras.saving.deserialize_keras_object(payload, safe_mode=True)) is type(layer)
    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(to_numpy(loaded(x)), y, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "make, argument, value",
    [
        (lambda: sl.DepthwiseConvND(3), "rank", "None"),
        (lambda: sl.DepthwiseConv2D(3, depth_multiplier=0), "depth_multiplier", "0"),
        (lambda: sl.DepthwiseConv2D(3, padding="sam"), "padding", "'sam'"),
        (lambda: sl.DepthwiseConv2D(3, depthwise_parametrization="zero"),
         "depthwise_parametrization", "'zero'"),
        (lambda: sl.DepthwiseConv2D(3, depthwise_parametrization="zero_sum", depthwise_constraint="non_neg"),
         "depthwise_constraint", "non_neg"),
        (lambda: sl.SeparableConv2D(0, 3), "filters", "0"),
        (lambda: sl.SeparableConv3D(2, 3, pointwise_parametrization=3), "pointwise_parametrization", "3"),
        (lambda: sl.SeparableConv1D(2, 3, algorithm="winograd"), "algorithm", "'winograd'"),
        (lambda: sl.SeparableConv4D(2, (3, 3)), "kernel_size", r"\(3, 3\)"),
    ],
)
def test_bad_arguments(make, argument, value):
    with pytest.raises(StructconvError, match=rf"`{argument}`.*{value}"):
        make()


def test_fft_and_direct_agree_on_a_large_depthwise_kernel():
    x = np.random.default_rng(0).standard_normal((1, 24, 24, 3))
    outputs = []
    for algorithm in ("direct", "fft"):
        layer = sl.DepthwiseConv2D(11, padding="same", algorithm=algorithm, dtype="float64")
        layer.build(x.shape)
        layer.set_weights([np.random.default_rng(1).standard_normal(w.shape) for w in layer.get_weights()])
        outputs.append(to_numpy(layer(tensor(x, "float64"))))
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-9, atol=1e-9)
