"""Gradients of rank-4 layers (float64): the backend's autodiff against finite differences.

The autodiff is the active backend's own (`torch.autograd`, `jax.grad` or `tf.GradientTape`, see
`helpers.autodiff`). The loss is `sum(sigmoid(conv(x) + b) * g)` for a fixed random `g`. Finite
differences are taken of the NumPy reference for every entry of the input and the kernel, and of the
layer itself along random directions.
"""

import numpy as np
import pytest
import reference
from layers.helpers import (
    NUMPY_ACTIVATIONS,
    add_bias,
    autodiff,
    call_layer,
    join_shape,
    set_random_weights,
    tensor,
    to_numpy,
)

from structconv.layers import ConvND, ConvNDTranspose

SIGMOID = NUMPY_ACTIVATIONS["sigmoid"]
EPS = 1e-6
RTOL = 1e-6

CONV_CASES = {
    "same": {"kernel_size": (2, 2, 2, 2), "padding": "same"},
    "strided_dilated_reflect_channels_first": {
        "kernel_size": (2, 2, 1, 2),
        "strides": (2, 1, 2, 1),
        "dilation_rate": (1, 2, 1, 1),
        "padding": ("causal", 1, (0, 1), "valid"),
        "padding_mode": "reflect",
        "data_format": "channels_first",
    },
    "grouped_full_replicate": {
        "kernel_size": (1, 2, 2, 1),
        "groups": 2,
        "padding": "full",
        "padding_mode": "replicate",
    },
    "circular": {
        "kernel_size": (2, 1, 2, 2),
        "padding": (1, "same", (1, 0), 0),
        "padding_mode": "circular",
    },
}
SPATIAL = (3, 3, 2, 3)
CHANNELS, FILTERS = 2, 4


def _check(layer, x, weights, cotangent, numpy_forward):
    """Autodiff gradients against finite differences of `numpy_forward(x, kernel)` (every entry) and
    of the layer (random directions)."""
    kernel, bias = weights
    grad_x, (grad_kernel, grad_bias) = autodiff(layer, x, cotangent)

    def loss(x_value, kernel_value):
        return np.sum(SIGMOID(numpy_forward(x_value, kernel_value, bias)) * cotangent)

    np.testing.assert_allclose(
        grad_x,
        reference.numerical_gradient(lambda v: loss(v, kernel), x, EPS),
        rtol=RTOL,
        atol=RTOL,
    )
    np.testing.assert_allclose(
        grad_kernel,
        reference.numerical_gradient(lambda k: loss(x, k), kernel, EPS),
        rtol=RTOL,
        atol=RTOL,
    )
    np.testing.assert_allclose(
        grad_bias,
        reference.numerical_gradient(
            lambda b: np.sum(SIGMOID(numpy_forward(x, kernel, b)) * cotangent), bias, EPS
        ),
        rtol=RTOL,
        atol=RTOL,
    )

    # Directional derivatives of the layer itself: the gradients agree with the layer's own forward.
    rng = np.random.default_rng(1)

    def layer_loss(x_value):
        return float(np.sum(to_numpy(call_layer(layer, tensor(x_value, "float64"))) * cotangent))

    for _ in range(2):
        direction = rng.standard_normal(x.shape)
        slope = (layer_loss(x + EPS * direction) - layer_loss(x - EPS * direction)) / (2 * EPS)
        np.testing.assert_allclose(np.sum(grad_x * direction), slope, rtol=RTOL, atol=RTOL)
    direction = rng.standard_normal(kernel.shape)
    slopes = []
    for sign in (1, -1):
        layer.set_weights([kernel + sign * EPS * direction, bias])
        slopes.append(layer_loss(x))
    layer.set_weights([kernel, bias])
    np.testing.assert_allclose(
        np.sum(grad_kernel * direction), (slopes[0] - slopes[1]) / (2 * EPS), rtol=RTOL, atol=RTOL
    )


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv_nd_rank4_gradients(case):
    kwargs = dict(CONV_CASES[case])
    data_format = kwargs.get("data_format", "channels_last")
    channels = CHANNELS * kwargs.get("groups", 1)
    layer = ConvND(
        FILTERS, activation="sigmoid", dtype="float64", kernel_initializer="zeros", **kwargs
    )
    rng = np.random.default_rng(0)
    shape = join_shape(2, SPATIAL, channels, data_format)
    weights = set_random_weights(layer, shape, rng, scale=0.5)
    x = rng.standard_normal(shape)
    cotangent = rng.standard_normal(layer.compute_output_shape(shape))

    strides, dilation = kwargs.get("strides", 1), kwargs.get("dilation_rate", 1)
    pairs = reference.padding_pairs(
        kwargs["padding"], SPATIAL, kwargs["kernel_size"], strides, dilation
    )

    def numpy_forward(x_value, kernel, bias):
        y = reference.conv_reference(
            x_value,
            kernel,
            strides,
            pairs,
            dilation,
            kwargs.get("groups", 1),
            kwargs.get("padding_mode", "zeros"),
            data_format,
        )
        return add_bias(y, bias, data_format)

    _check(layer, x, weights, cotangent, numpy_forward)


def test_conv_nd_transpose_rank4_gradients():
    kwargs = {
        "strides": (2, 1, 1, 2),
        "padding": ("causal", "valid", 1, "full"),
        "output_padding": (1, 0, 0, 1),
    }
    layer = ConvNDTranspose(
        3, (2, 2, 1, 2), activation="sigmoid", dtype="float64", kernel_initializer="zeros", **kwargs
    )
    rng = np.random.default_rng(0)
    shape = (2, 2, 2, 3, 2, CHANNELS)
    weights = set_random_weights(layer, shape, rng, scale=0.5)
    x = rng.standard_normal(shape)
    cotangent = rng.standard_normal(layer.compute_output_shape(shape))

    def numpy_forward(x_value, kernel, bias):
        y = reference.conv_transpose_reference(
            x_value, kernel, kwargs["strides"], kwargs["padding"], kwargs["output_padding"]
        )
        return add_bias(y, bias, "channels_last")

    _check(layer, x, weights, cotangent, numpy_forward)
