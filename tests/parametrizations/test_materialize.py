"""`structconv.export.materialize`: parametrized layers of ranks 1-3 become stock Keras layers holding the
effective kernels, with identical predictions; layers stock Keras cannot express are refused by name."""

import json

import keras
import numpy as np
import pytest
from parametrizations.param_helpers import MASK_IN_OUT, assert_close, to_numpy, walk_layers

from structconv import layers as L
from structconv import parametrizations as P
from structconv.errors import StructconvError
from structconv.export import materialize
from structconv.export.materialize import stock_conv_layer

CF = {"data_format": "channels_first"}
BAYAR = [P.FixedTaps({"center": -1.0}), P.ZeroSum()]

# (id, input shape without batch, class, kernel_parametrization, other arguments): every rank, transposed
# layers, "valid", "same", explicit pairs and ints, "full" and "causal", groups, strides, dilation and both
# data formats. Every layer has 2 input channels, 2 filters and kernel size 3, so that kernel shapes repeat:
# JAX compiles each new shape, and that is most of this module's time.
LAYERS = [
    ("1d_valid", (7, 2), L.Conv1D, "zero_sum", {}),
    ("1d_same_strided", (7, 2), L.Conv1D, "unit_norm", dict(strides=2, padding="same")),
    ("1d_pair", (7, 2), L.Conv1D, "non_neg", dict(padding=((1, 2),))),
    ("1d_causal", (7, 2), L.Conv1D, P.Symmetric(0), dict(padding="causal")),
    ("1dT_same", (7, 2), L.Conv1DTranspose, "zero_sum", dict(strides=2, padding="same")),
    ("1dT_outpad", (7, 2), L.Conv1DTranspose, "non_neg", dict(strides=2, output_padding=1)),
    ("2d_same_groups", (6, 6, 2), L.Conv2D, "zero_sum", dict(padding="same", groups=2)),
    ("2d_same_strided", (6, 6, 2), L.Conv2D, P.FixedSum(1.0), dict(strides=2, padding="same")),
    ("2d_pairs", (6, 6, 2), L.Conv2D, P.Mask(MASK_IN_OUT), dict(padding=((1, 0), (2, 1)))),
    ("2d_int_dilated", (6, 6, 2), L.Conv2D, "unit_norm", dict(padding=1, dilation_rate=2)),
    ("2d_full", (6, 6, 2), L.Conv2D, BAYAR, dict(padding="full")),
    ("2d_nd_class", (6, 6, 2), L.ConvND, P.UnitNorm(axis=-1), dict(rank=2, padding="same")),
    ("2dT_same", (6, 6, 2), L.Conv2DTranspose, [P.ZeroSum(), P.UnitNorm()], dict(strides=2, padding="same")),
    ("2dT_valid", (6, 6, 2), L.Conv2DTranspose, "non_neg", dict(strides=(2, 1))),
    ("2d_cf_same_groups", (2, 6, 6), L.Conv2D, "zero_sum", dict(CF, padding="same", groups=2)),
    ("2d_cf_pairs", (2, 6, 6), L.Conv2D, "zero_sum", dict(CF, padding=((1, 0), (2, 1)))),
    ("2dT_cf_same", (2, 6, 6), L.Conv2DTranspose, "zero_sum", dict(CF, strides=2, padding="same")),
    ("3d_same", (4, 4, 4, 2), L.Conv3D, "zero_sum", dict(padding="same")),
    ("3d_pairs", (4, 4, 4, 2), L.Conv3D, P.Symmetric((0, 1, 2)), dict(padding=((1, 0), (0, 1), (1, 1)))),
    ("3dT_same", (4, 4, 4, 2), L.Conv3DTranspose, "unit_norm", dict(strides=2, padding="same")),
    # Not (2, 4, 4, 4): the output's last axis would have as many entries as filters, where stock Keras on
    # TensorFlow adds a channels_first bias on the wrong axis (keras.ops.add); structconv adds it right.
    ("3d_cf_valid", (2, 4, 4, 5), L.Conv3D, P.Mask(MASK_IN_OUT), dict(CF)),
    ("3dT_cf_valid", (2, 4, 4, 4), L.Conv3DTranspose, "unit_norm", dict(CF, strides=2)),
]
IDS = [case[0] for case in LAYERS]
SHAPES = sorted({case[1] for case in LAYERS})


@pytest.fixture(scope="module")
def exported():
    rng = np.random.default_rng(4)
    inputs = {shape: keras.Input(shape) for shape in SHAPES}
    outputs = []
    for name, shape, cls, parametrization, kwargs in LAYERS:
        # zeros, then random values: a random initializer would compile once more per shape on JAX
        layer = cls(
            2, 3, name=name, kernel_parametrization=parametrization, kernel_initializer="zeros", **kwargs
        )
        outputs.append(layer(inputs[shape]))
        layer.free_kernel.assign(rng.standard_normal(layer.free_kernel.shape).astype("float32"))
        layer.bias.assign(rng.standard_normal(2).astype("float32"))
    model = keras.Model([inputs[shape] for shape in SHAPES], outputs)
    result = materialize(model)
    xs = [rng.standard_normal((2, *shape)).astype("float32") for shape in SHAPES]
    predictions = [to_numpy(y) for y in model.predict(xs, verbose=0)]
    exported_predictions = [to_numpy(y) for y in result.predict(xs, verbose=0)]
    return model, result, predictions, exported_predictions


def _stock_only_layer(layer):
    return type(layer).__module__.split(".")[0] == "keras"


def _stock_only(model):
    return all(_stock_only_layer(layer) for layer in walk_layers(model.layers))


def test_only_stock_layers(exported):
    model, result, _, _ = exported
    assert result is not model
    assert _stock_only(result), [type(layer) for layer in walk_layers(result.layers)]
    assert "structconv" not in json.dumps(keras.saving.serialize_keras_object(result))
    assert all("free_kernel" not in w.path for w in result.weights)
    # the original keeps its parametrized layers
    assert all(isinstance(model.get_layer(name), L.ConvND | L.ConvNDTranspose) for name in IDS)


@pytest.mark.parametrize("name", IDS)
def test_identical_predictions(exported, name):
    model, result, predictions, exported_predictions = exported
    index = IDS.index(name)
    assert exported_predictions[index].shape == predictions[index].shape
    assert_close(exported_predictions[index], predictions[index], rtol=1e-5, what=name)
    # the stock layer holds the effective kernel and the bias
    original = model.get_layer(name)
    stock = stock_conv_layer(result.get_layer(name))
    np.testing.assert_array_equal(to_numpy(stock.kernel), to_numpy(original.kernel))
    np.testing.assert_array_equal(to_numpy(stock.bias), to_numpy(original.bias))


def test_exported_model_saves_and_loads_without_structconv(exported, tmp_path):
    _, result, _, _ = exported
    path = tmp_path / "stock.keras"
    result.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert _stock_only(loaded)
    # the same weights as the model whose predictions `test_identical_predictions` checks
    for name in IDS:
        weights, expected = loaded.get_layer(name).get_weights(), result.get_layer(name).get_weights()
        assert len(weights) == len(expected) == 2, name
        for a, b in zip(weights, expected):
            np.testing.assert_array_equal(a, b)


REFUSED = {
    "rank4": (
        (4, 4, 4, 4, 2),
        lambda: L.ConvND(2, 3, rank=4, kernel_parametrization="zero_sum", kernel_initializer="zeros"),
    ),
    "reflect": (
        (6, 6, 2),
        lambda: L.Conv2D(2, 3, padding="same", padding_mode="reflect", kernel_parametrization="zero_sum"),
    ),
    "circular": ((6, 6, 2), lambda: L.Conv2D(2, 3, padding=1, padding_mode="circular")),
    "transposed_pairs": (
        (4, 4, 2),
        lambda: L.Conv2DTranspose(2, 3, padding=((1, 0), (0, 1)), kernel_parametrization="zero_sum"),
    ),
    "strides_and_dilation": (
        (9, 9, 2),
        lambda: L.Conv2D(2, 3, strides=2, dilation_rate=2, kernel_parametrization="non_neg"),
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refuses_layers_stock_keras_cannot_express(case):
    shape, make = REFUSED[case]
    inputs = keras.Input(shape)
    hidden = keras.layers.Activation("linear", name="ok_layer")(inputs)
    layer = make()
    layer.name = f"the_{case}_layer"
    model = keras.Model(inputs, layer(hidden))
    with pytest.raises(StructconvError, match=f"the_{case}_layer"):
        materialize(model)


def test_refuses_what_is_not_a_model():
    with pytest.raises(StructconvError, match="`model`"):
        materialize(L.Conv2D(2, 3))


def test_sequential_model_with_other_layers():
    rng = np.random.default_rng(6)
    model = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            L.Conv2D(2, 3, kernel_parametrization="zero_sum"),
            keras.layers.ReLU(),
            L.Conv2D(2, 3, padding=((1, 0), (0, 1)), kernel_parametrization="non_neg"),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ]
    )
    result = materialize(model)
    assert isinstance(result, keras.Sequential) and _stock_only(result)
    x = rng.standard_normal((2, 6, 6, 2)).astype("float32")
    assert_close(result(x), model(x), rtol=1e-5)


def test_structconv_layers_inside_a_nested_model_are_replaced_too():
    """`materialize` promises that *every* structconv layer of rank <= 3 becomes a stock layer: also those
    of a sub-model (a backbone)."""
    rng = np.random.default_rng(7)
    inner_inputs = keras.Input((6, 6, 2))
    conv = L.Conv2D(2, 3, padding="same", kernel_parametrization="zero_sum", name="inner_conv")
    backbone = keras.Model(inner_inputs, conv(inner_inputs), name="backbone")
    inputs = keras.Input((6, 6, 2))
    head = L.Conv2D(2, 3, kernel_parametrization="unit_norm", name="head")
    model = keras.Model(inputs, head(backbone(inputs)))
    result = materialize(model)
    x = rng.standard_normal((2, 6, 6, 2)).astype("float32")
    assert_close(result(x), model(x), rtol=1e-5)
    leftover = [layer.name for layer in walk_layers(result.layers) if not _stock_only_layer(layer)]
    assert leftover == [], f"structconv layers left in the exported model: {leftover}"
