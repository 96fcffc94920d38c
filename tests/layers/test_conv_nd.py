"""`ConvND` for ranks 1-5 and `ConvNDTranspose` at rank 4 against the NumPy reference (float64).

Every layer has a random bias and most an activation, so the whole `call` (convolution, bias on the
channel axis, activation) is compared, together with `compute_output_shape`. The activations are
ones that keep float64 on every backend (Keras's `tanh` returns float32 for float64 input on JAX,
for stock layers too).
"""

import numpy as np
import pytest
import reference
from layers.helpers import (
    NUMPY_ACTIVATIONS,
    add_bias,
    assert_close,
    call_layer,
    join_shape,
    run_layer_test,
    set_random_weights,
    tensor,
    to_numpy,
)

from structconv.layers import Conv4DTranspose, ConvND, ConvNDTranspose

DATA_FORMATS = ("channels_last", "channels_first")
PADDING_NAMES = ("valid", "same", "full", "causal")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
# Weights are always overwritten: a constant initializer spares JAX a random-number compile for
# each new shape.
FAST = {"kernel_initializer": "zeros", "dtype": "float64"}


def expected_conv(strides, padding, dilation, groups, mode, data_format, activation):
    """`expected_fn` for `run_layer_test`: the NumPy reference convolution, bias, activation."""

    def expected(x, weights):
        spatial = x.shape[1:-1] if data_format == "channels_last" else x.shape[2:]
        kernel = weights[0]
        pairs = reference.padding_pairs(
            padding, spatial, kernel.shape[: len(spatial)], strides, dilation
        )
        y = reference.conv_reference(x, kernel, strides, pairs, dilation, groups, mode, data_format)
        if len(weights) > 1:
            y = add_bias(y, weights[1], data_format)
        return NUMPY_ACTIVATIONS[activation](y)

    return expected


def _mode_allows(mode, pairs, spatial):
    if mode == "reflect":
        return all(max(p) < n for p, n in zip(pairs, spatial))
    if mode == "circular":
        return all(max(p) <= n for p, n in zip(pairs, spatial))
    return True


def random_config(rank, seed):
    """A random valid configuration: padding form and mode, strides with dilation, groups."""
    rng = np.random.default_rng(seed)
    kernel_size = tuple(int(k) for k in rng.integers(1, 4, rank))
    strides = tuple(int(s) for s in rng.integers(1, 3, rank))
    dilation = tuple(int(d) for d in rng.integers(1, 3, rank))
    groups = int(rng.choice([1, 2]))
    channels, filters = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    forms = [*PADDING_NAMES, 1, (0, 2)]
    if rng.random() < 0.4:
        padding = forms[int(rng.integers(0, 5))]  # a single name or int for every axis
    else:
        padding = tuple(forms[int(i)] for i in rng.integers(0, len(forms), rank))
    mode = str(rng.choice(PADDING_MODES))
    extents = [reference.extent(k, d) for k, d in zip(kernel_size, dilation)]
    spatial = [e + int(rng.integers(0, 3 if rank <= 3 else 2)) for e in extents]
    pairs = reference.padding_pairs(padding, spatial, kernel_size, strides, dilation)
    while not _mode_allows(mode, pairs, spatial):
        spatial = [n + 1 for n in spatial]
        pairs = reference.padding_pairs(padding, spatial, kernel_size, strides, dilation)
    return {
        "kernel_size": kernel_size,
        "strides": strides,
        "dilation_rate": dilation,
        "groups": groups,
        "padding": padding,
        "padding_mode": mode,
        "data_format": str(rng.choice(DATA_FORMATS)),
        "activation": [None, "sigmoid", "relu", "linear"][seed % 4],
        "channels": channels,
        "filters": filters,
        "spatial": tuple(spatial),
    }


def check_conv(config, seed=0, rank=None):
    config = dict(config)
    filters, channels, spatial = (
        config.pop("filters"),
        config.pop("channels"),
        config.pop("spatial"),
    )
    layer = ConvND(filters, **config, rank=rank, **FAST)
    shape = join_shape(2, spatial, channels, config["data_format"])
    expected = expected_conv(
        config["strides"],
        config["padding"],
        config["dilation_rate"],
        config["groups"],
        config["padding_mode"],
        config["data_format"],
        config["activation"],
    )
    return run_layer_test(layer, shape, expected, np.random.default_rng(seed))


RANDOM_CASES = [
    (rank, seed)
    for rank, count in ((1, 5), (2, 5), (3, 5), (4, 5), (5, 3))
    for seed in range(100 * rank, 100 * rank + count)
]


@pytest.mark.parametrize("rank, seed", RANDOM_CASES)
def test_random_configuration(rank, seed):
    check_conv(random_config(rank, seed), seed)


@pytest.mark.parametrize(
    "padding",
    ["valid", "same", "full", "causal", 2, "per_axis_pairs", "per_axis_mixed"],
)
@pytest.mark.parametrize("rank", [2, 4])
def test_padding_forms(rank, padding):
    if padding == "per_axis_pairs":
        padding = ((0, 2), (1, 0), (2, 1), (1, 1))[:rank]
    elif padding == "per_axis_mixed":
        padding = ("causal", (2, 0), "same", 1)[-rank:]
    config = {
        "kernel_size": (3, 2, 2, 3)[:rank],
        "strides": (2, 1, 1, 2)[:rank],
        "dilation_rate": 1,
        "groups": 1,
        "padding": padding,
        "padding_mode": "zeros",
        "data_format": "channels_last",
        "activation": "sigmoid",
        "channels": 2,
        "filters": 3,
        "spatial": (5, 4, 4, 5)[:rank],
    }
    check_conv(config)


@pytest.mark.parametrize("mode", PADDING_MODES)
@pytest.mark.parametrize("rank", [1, 2, 4])
def test_padding_modes(rank, mode):
    config = {
        "kernel_size": 3,
        "strides": 1,
        "dilation_rate": (2, 1, 1, 1)[:rank],
        "groups": 1,
        "padding": ((3, 1), "same", 2, "causal")[:rank],
        "padding_mode": mode,
        "data_format": DATA_FORMATS[rank % 3 % 2],  # channels_first at ranks 1 and 4
        "activation": None,
        "channels": 2,
        "filters": 2,
        "spatial": (5, 4, 3, 4)[:rank],
    }
    check_conv(config, rank=rank)


@pytest.mark.parametrize("data_format", DATA_FORMATS)
@pytest.mark.parametrize("rank", [2, 4])
def test_strides_with_dilation(rank, data_format):
    config = {
        "kernel_size": 2,
        "strides": (2, 3, 2, 1)[:rank],
        "dilation_rate": (2, 2, 3, 2)[:rank],
        "groups": 1,
        "padding": "same",
        "padding_mode": "zeros",
        "data_format": data_format,
        "activation": "relu",
        "channels": 2,
        "filters": 3,
        "spatial": (5, 6, 4, 3)[:rank],
    }
    check_conv(config, rank=rank)


@pytest.mark.parametrize("rank", [1, 2, 3, 4, 5])
def test_groups(rank):
    config = {
        "kernel_size": 2,
        "strides": 1,
        "dilation_rate": 1,
        "groups": 3,
        "padding": "valid",
        "padding_mode": "zeros",
        "data_format": DATA_FORMATS[rank % 2],
        "activation": None,
        "channels": 6,
        "filters": 3,
        "spatial": (3,) * rank,
    }
    check_conv(config, rank=rank)


@pytest.mark.parametrize("rank", [1, 2])
def test_bias_on_channel_axis_when_last_spatial_size_equals_filters(rank):
    """channels_first output `(batch, filters, ..., n)` with `n == filters`: the bias must still be
    added on axis 1, not on the last axis."""
    config = {
        "kernel_size": 1,
        "strides": 1,
        "dilation_rate": 1,
        "groups": 1,
        "padding": "valid",
        "padding_mode": "zeros",
        "data_format": "channels_first",
        "activation": None,
        "channels": 2,
        "filters": 3,
        "spatial": (2, 3)[-rank:],
    }
    check_conv(config, rank=rank)


@pytest.mark.parametrize(
    "kernel_size, rank", [((3, 2, 2), 3), ([2, 1], 2), ((2,), 1), ((1, 2, 1, 2, 1), 5)]
)
def test_rank_inferred_from_tuple_kernel_size(kernel_size, rank):
    layer = ConvND(2, kernel_size, padding="same", **FAST)
    assert layer.rank == rank
    assert layer.kernel_size == tuple(kernel_size)
    assert layer.input_spec.ndim == rank + 2
    shape = join_shape(1, (3,) * rank, 2, "channels_last")
    expected = expected_conv(1, "same", 1, 1, "zeros", "channels_last", None)
    run_layer_test(layer, shape, expected, np.random.default_rng(rank))
    assert tuple(layer.kernel.shape) == (*kernel_size, 2, 2)


def test_int_kernel_size_with_rank():
    layer = ConvND(3, 2, rank=4, strides=2, padding="same", **FAST)
    assert layer.rank == 4 and layer.kernel_size == (2, 2, 2, 2) and layer.strides == (2, 2, 2, 2)
    shape = (1, 4, 3, 4, 3, 2)
    expected = expected_conv(2, "same", 1, 1, "zeros", "channels_last", None)
    run_layer_test(layer, shape, expected, np.random.default_rng(0))


def test_kernel_and_convolution_op():
    """`layer.kernel` is the kernel weight; `convolution_op` convolves with any kernel, no bias."""
    rng = np.random.default_rng(0)
    layer = ConvND(3, (2, 2, 1, 2), padding=("same", 1, "valid", (1, 0)), groups=1, **FAST)
    shape = (2, 3, 3, 2, 3, 2)
    weights = set_random_weights(layer, shape, rng)
    np.testing.assert_array_equal(to_numpy(layer.kernel), weights[0])
    x, other = rng.standard_normal(shape), rng.standard_normal(weights[0].shape)
    pairs = reference.padding_pairs(layer.padding, shape[1:-1], (2, 2, 1, 2), 1, 1)
    expected = reference.conv_reference(x, other, 1, pairs, 1)
    assert_close(
        layer.convolution_op(tensor(x, "float64"), tensor(other, "float64")), expected, rtol=1e-10
    )


def test_unknown_dims_in_compute_output_shape():
    layer = ConvND(4, (3, 2, 2, 3), strides=(1, 2, 1, 2), padding=("full", "valid", 1, "same"))
    assert layer.compute_output_shape((None, 5, 6, None, 7, 2)) == (None, 7, 3, None, 4, 4)
    assert layer.compute_output_shape((None, None, None, None, None, 2)) == (None,) * 5 + (4,)


# ConvNDTranspose, rank 4 ---------------------------------------------------------------------

TRANSPOSE_CASES = {
    "valid": {"padding": "valid", "strides": (2, 1, 2, 1)},
    "same": {"padding": "same", "strides": (2, 2, 1, 1)},
    "same_output_padding": {
        "padding": "same",
        "strides": (2, 3, 1, 2),
        "output_padding": (1, 2, 0, 0),
    },
    "valid_output_padding": {"padding": "valid", "strides": 2, "output_padding": (1, 0, 1, 0)},
    "dilated": {"padding": "valid", "strides": (1, 2, 1, 1), "dilation_rate": (2, 1, 1, 2)},
    "full": {"padding": "full", "strides": (1, 2, 1, 2)},
    "per_axis": {
        "padding": ("causal", 1, (0, 1), "valid"),
        "strides": (2, 1, 1, 2),
        "output_padding": (1, 0, 0, 1),
    },
}


@pytest.mark.parametrize(
    "case, data_format",
    [(case, DATA_FORMATS[index % 2]) for index, case in enumerate(sorted(TRANSPOSE_CASES))],
)
def test_conv_transpose_rank4_matches_numpy(case, data_format):
    kwargs = TRANSPOSE_CASES[case]
    layer = ConvNDTranspose(
        3, (2, 3, 2, 1), data_format=data_format, activation="sigmoid", **kwargs, **FAST
    )
    shape = join_shape(2, (2, 3, 2, 3), 2, data_format)

    # "same" follows Keras's rule (the drop-in contract of ranks 1-3, generalised); the other forms
    # are the adjoint of the forward convolution with that padding.
    rule = (
        reference.keras_conv_transpose_reference
        if kwargs["padding"] == "same"
        else reference.conv_transpose_reference
    )

    def expected(y, weights):
        out = rule(
            y,
            weights[0],
            kwargs["strides"],
            kwargs["padding"],
            kwargs.get("output_padding"),
            kwargs.get("dilation_rate", 1),
            data_format,
        )
        return NUMPY_ACTIVATIONS["sigmoid"](add_bias(out, weights[1], data_format))

    run_layer_test(layer, shape, expected, np.random.default_rng(len(case)))


@pytest.mark.parametrize(
    "padding, strides, dilation",
    [
        ("valid", (2, 1, 3, 1), 1),
        ("full", (1, 2, 1, 2), (1, 2, 1, 1)),
        (((1, 0), 2, "causal", 0), 2, 1),
    ],
)
def test_conv_transpose_rank4_is_adjoint_of_conv(padding, strides, dilation):
    """`<conv(x, K), y> == <x, conv_transpose(y, K)>`: the transposed layer with the forward layer's
    kernel, and `output_padding` chosen so that it maps back onto the forward input's shape."""
    rng = np.random.default_rng(0)
    kernel_size, spatial, channels, filters = (2, 3, 2, 2), (5, 6, 5, 4), 2, 3
    forward = ConvND(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        dilation_rate=dilation,
        use_bias=False,
        **FAST,
    )
    x_shape = (2, *spatial, channels)
    (kernel,) = set_random_weights(forward, x_shape, rng)
    x = rng.standard_normal(x_shape)
    y_shape = forward.compute_output_shape(x_shape)
    y = rng.standard_normal(y_shape)
    strides_t = (strides,) * 4 if isinstance(strides, int) else strides
    dilation_t = (dilation,) * 4 if isinstance(dilation, int) else dilation
    pairs = reference.padding_pairs(padding, spatial, kernel_size, strides_t, dilation_t)
    # output_padding: the samples at the end of each axis that the forward windows skip.
    output_padding = tuple(
        (n + p[0] + p[1] - reference.extent(k, d)) % s
        for n, p, k, d, s in zip(spatial, pairs, kernel_size, dilation_t, strides_t)
    )
    transposed = Conv4DTranspose(
        channels,
        kernel_size,
        strides=strides,
        padding=padding,
        output_padding=output_padding,
        dilation_rate=dilation,
        use_bias=False,
        **FAST,
    )
    transposed.build(y_shape)
    transposed.set_weights([kernel])
    x_back = to_numpy(call_layer(transposed, tensor(y, "float64")))
    assert x_back.shape == x_shape
    assert tuple(transposed.compute_output_shape(y_shape)) == x_shape
    lhs = float(np.sum(to_numpy(call_layer(forward, tensor(x, "float64"))) * y))
    rhs = float(np.sum(x * x_back))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)
    # And the NumPy reference of the adjoint, cross-checked with the same identity.
    expected = reference.conv_transpose_reference(
        y, kernel, strides, padding, output_padding, dilation
    )
    assert_close(x_back, expected, rtol=1e-10)
