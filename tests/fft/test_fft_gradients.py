"""Gradients of `algorithm="fft"` (input and kernel) against float64 central finite differences of the NumPy
reference, by the active backend's autodiff, for `conv` and `conv_transpose`."""

import keras
import numpy as np
import pytest
import reference
from conftest import autodiff_gradients, conv_with_plan, tensor


def check_gradients(library, numpy_reference, arrays, rng):
    """Autodiff of `sum(library(*arrays) * w)` against central differences of the reference, for each
    array."""
    weights = rng.standard_normal(np.shape(numpy_reference(*arrays)))

    def loss(*tensors):
        return keras.ops.sum(library(*tensors) * tensor(weights, "float64"))

    gradients = autodiff_gradients(loss, *arrays)
    for index, (array, gradient) in enumerate(zip(arrays, gradients)):
        assert gradient.shape == np.shape(array)

        def reference_loss(value, index=index):
            operands = [value if i == index else a for i, a in enumerate(arrays)]
            return np.sum(numpy_reference(*operands) * weights)

        # The loss is linear in each operand: central differences are exact up to rounding.
        expected = reference.numerical_gradient(reference_loss, array, eps=1e-3)
        scale = max(float(np.max(np.abs(expected))), 1.0)
        np.testing.assert_allclose(gradient, expected, rtol=1e-8, atol=1e-8 * scale)


CONV_CASES = [
    # spatial, channels, kernel_size, filters, strides, padding, dilation, groups, mode, data_format
    ((9,), 2, (3,), 2, 2, "same", 2, 2, "reflect", "channels_last"),
    ((7,), 1, (4,), 2, 1, "causal", 1, 1, "zeros", "channels_first"),
    ((8,), 2, (2,), 3, 3, ((5, 1),), 1, 1, "zeros", "channels_last"),
    ((6, 5), 2, (3, 2), 4, (2, 1), ((1, 2), "same"), (1, 2), 2, "circular", "channels_last"),
    ((5, 6), 2, (2, 3), 1, 1, "full", 1, 1, "replicate", "channels_first"),
    ((5, 4), 1, (3, 3), 2, 1, 2, 1, 1, "zeros", "channels_last"),
    ((4, 4, 5), 2, (2, 2, 3), 2, (1, 2, 1), "same", (2, 1, 1), 1, "zeros", "channels_first"),
    ((4, 3, 4), 2, (2, 1, 2), 2, 1, "valid", 1, 2, "reflect", "channels_last"),
    ((3, 3, 3, 4), 1, (2, 2, 1, 2), 2, (1, 1, 1, 2), "same", 1, 1, "zeros", "channels_last"),
]


def _conv_id(case):
    return f"r{len(case[0])}-{case[5]}-{case[8]}-{case[9][9:]}"


# The kernel's spectrum by DFT matrices or FFT, with each spectral product it meets (forced in the plan,
# `conftest.forced_plan`).
TRANSFORM_PRODUCTS = [("dft", "matmul"), ("dft", "planes"), ("dft", "packed"), ("fft", "loop")]


@pytest.mark.parametrize(("transform", "product"), TRANSFORM_PRODUCTS, ids=lambda v: v)
@pytest.mark.parametrize("case", CONV_CASES, ids=_conv_id)
def test_conv_gradients(case, transform, product):
    spatial, channels, kernel_size, filters, strides, padding, dilation, groups, mode, data_format = case
    rank = len(spatial)
    rng = np.random.default_rng(len(spatial) * 100 + channels)
    batch = 2 if product == "packed" else 1  # pairs of batch items are packed
    shape = (batch, *spatial, channels) if data_format == "channels_last" else (batch, channels, *spatial)
    x = rng.standard_normal(shape)
    kernel = rng.standard_normal((*kernel_size, channels // groups, filters))
    strides_, dilation_ = reference.expand(strides, rank), reference.expand(dilation, rank)
    pairs = reference.padding_pairs(padding, spatial, kernel_size, strides_, dilation_)

    def library(x, kernel):
        return conv_with_plan(x, kernel, strides=strides, padding=padding, dilation_rate=dilation,
                              groups=groups, data_format=data_format, padding_mode=mode,
                              kernel_transform=transform, product=product)

    def numpy_reference(x, kernel):
        return reference.conv_reference(x, kernel, strides_, pairs, dilation_, groups, mode, data_format)

    check_gradients(library, numpy_reference, [x, kernel], rng)


TRANSPOSE_CASES = [
    # spatial, channels, kernel_size, filters, strides, padding, output_padding, dilation, data_format
    ((4,), 2, (3,), 2, 2, "same", None, 1, "channels_last"),
    ((3, 4), 1, (2, 3), 2, (2, 1), "valid", (1, 0), (1, 2), "channels_first"),
    ((3, 2, 3), 2, (2, 2, 2), 1, 2, "full", None, 1, "channels_last"),
]


@pytest.mark.parametrize(("transform", "product"),
                         [("dft", "loop"), ("dft", "planes"), ("dft", "packed"), ("fft", "matmul")],
                         ids=lambda v: v)
@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=lambda c: f"r{len(c[0])}-{c[5]}")
def test_conv_transpose_gradients(case, transform, product):
    spatial, channels, kernel_size, filters, strides, padding, output_padding, dilation, data_format = case
    rng = np.random.default_rng(7 + len(spatial))
    batch = 2 if product == "packed" else 1  # pairs of batch items are packed
    shape = (batch, *spatial, channels) if data_format == "channels_last" else (batch, channels, *spatial)
    y = rng.standard_normal(shape)
    kernel = rng.standard_normal((*kernel_size, filters, channels))

    def library(y, kernel):
        return conv_with_plan(y, kernel, transposed=True, strides=strides, padding=padding,
                              output_padding=output_padding, dilation_rate=dilation, data_format=data_format,
                              kernel_transform=transform, product=product)

    def numpy_reference(y, kernel):
        return reference.conv_transpose_reference(y, kernel, strides, padding, output_padding, dilation,
                                                  data_format)

    check_gradients(library, numpy_reference, [y, kernel], rng)
