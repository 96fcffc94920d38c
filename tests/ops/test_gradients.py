"""Gradients of `conv` and `conv_transpose` (inputs and kernel) against float64 central differences,
of the NumPy reference and of the library itself, on the active backend."""

import keras
import numpy as np
import pytest
import reference
from conftest import autodiff_gradients, compiled, tensor, to_numpy

from structconv import ops as sops

DIRECTIONS = 4


def _check(library, numpy_reference, arrays, weights):
    """Compares autodiff of `sum(library(*arrays) * weights)` with central differences of the reference
    and of the library, w.r.t. every array."""
    weights_np = np.asarray(weights, np.float64)

    def library_loss(*tensors):
        return keras.ops.sum(library(*tensors) * tensor(weights_np, "float64"))

    gradients = autodiff_gradients(library_loss, *arrays)
    compiled_library = compiled(library)
    for index, (array, gradient) in enumerate(zip(arrays, gradients)):
        assert gradient.shape == array.shape

        def replace(value, index=index):
            return [value if i == index else a for i, a in enumerate(arrays)]

        def reference_loss(value, replace=replace):
            return np.sum(numpy_reference(*replace(value)) * weights_np)

        def library_numeric_loss(value, replace=replace):
            outputs = compiled_library(*(tensor(a, "float64") for a in replace(value)))
            return np.sum(to_numpy(outputs) * weights_np)

        # The loss is linear in each operand, so central differences are exact up to rounding. The
        # reference is differentiated entry by entry; the library (slower) along random directions.
        from_reference = reference.numerical_gradient(reference_loss, array, eps=1e-3)
        scale = max(np.max(np.abs(from_reference)), 1.0)
        np.testing.assert_allclose(gradient, from_reference, rtol=1e-8, atol=1e-8 * scale)
        directions = np.random.default_rng(index).standard_normal((DIRECTIONS, *array.shape))
        for direction in directions:
            numeric = reference.numerical_directional_derivative(
                library_numeric_loss, array, direction, eps=1e-3
            )
            analytic = float(np.sum(gradient * direction))
            assert abs(numeric - analytic) <= 1e-8 * (np.sum(np.abs(gradient * direction)) + 1.0), (
                numeric, analytic
            )
    return gradients


CONV_CASES = [
    # (spatial, channels, kernel_size, filters, strides, padding, dilation, groups, mode, data_format)
    ((7,), 2, (3,), 2, 2, "same", 2, 2, "reflect", "channels_last"),
    ((6,), 1, (2,), 2, 1, "causal", 1, 1, "circular", "channels_first"),
    ((6, 5), 2, (3, 2), 4, (2, 1), ((1, 2), "same"), (1, 2), 2, "circular", "channels_last"),
    ((5, 4), 2, (2, 3), 1, 1, "full", 1, 1, "replicate", "channels_first"),
    ((4, 5, 4), 2, (2, 2, 3), 2, 2, "same", (2, 1, 1), 1, "reflect", "channels_last"),
    ((4, 3, 4), 2, (2, 2, 2), 2, (1, 2, 1), ("causal", 1, "valid"), 1, 2, "zeros", "channels_first"),
    ((4, 3, 3, 4), 2, (2, 2, 2, 2), 2, (2, 1, 1, 2), 1, (1, 1, 2, 1), 2, "circular", "channels_last"),
    ((3, 4, 3, 3), 1, (2, 2, 1, 2), 2, 1, "same", 1, 1, "reflect", "channels_first"),
    # One filter from channels-last data: torch's own 2-D loops (float64) refused the kernel's gradient.
    ((3, 5), 2, (1, 2), 1, 1, "same", 1, 1, "zeros", "channels_last"),
]


def _case_id(case):
    return f"r{len(case[0])}-{case[5]}-{case[8]}-{case[9][9:]}"


@pytest.mark.parametrize("case", CONV_CASES, ids=_case_id)
def test_conv_gradients(case):
    spatial, channels, kernel_size, filters, strides, padding, dilation, groups, mode, data_format = case
    rank = len(spatial)
    np_rng = np.random.default_rng(len(spatial) * 10 + channels)
    shape = (1, *spatial, channels) if data_format == "channels_last" else (1, channels, *spatial)
    x = np_rng.standard_normal(shape)
    kernel = np_rng.standard_normal((*kernel_size, channels // groups, filters))
    pairs = reference.padding_pairs(padding, spatial, kernel_size, reference.expand(strides, rank),
                                    reference.expand(dilation, rank))

    def library(x, kernel):
        return sops.conv(x, kernel, strides, padding, dilation, groups, data_format, padding_mode=mode)

    def numpy_reference(x, kernel):
        return reference.conv_reference(x, kernel, strides, pairs, dilation, groups, mode, data_format)

    weights = np_rng.standard_normal(numpy_reference(x, kernel).shape)
    _check(library, numpy_reference, [x, kernel], weights)


CONV_TRANSPOSE_CASES = [
    # (spatial, in_channels, kernel_size, filters, strides, padding, output_padding, dilation, format)
    ((4,), 2, (3,), 2, 2, "same", None, 2, "channels_last"),
    ((3,), 1, (2,), 2, 3, "valid", 1, 1, "channels_first"),
    ((3, 4), 2, (3, 2), 1, (2, 1), ((1, 2), "causal"), (1, 0), (1, 2), "channels_last"),
    ((3, 3), 1, (2, 3), 2, 2, "full", None, 1, "channels_first"),
    ((2, 3, 2), 2, (2, 2, 3), 1, 2, "same", 1, (2, 1, 1), "channels_last"),
    ((2, 2, 3), 1, (2, 1, 2), 2, (1, 2, 1), 1, None, 1, "channels_first"),
    ((2, 2, 2, 3), 1, (2, 2, 1, 2), 2, (2, 1, 1, 2), "valid", None, (1, 2, 1, 1), "channels_last"),
    ((2, 3, 2, 2), 2, (1, 2, 2, 2), 1, 1, ("same", "causal", 1, "valid"), None, 1, "channels_first"),
    # One input channel, channels-last: the transposed twin of the one-filter case above.
    ((3, 3), 1, (3, 2), 2, 1, "valid", None, 1, "channels_last"),
]


def _transpose_case_id(case):
    return f"r{len(case[0])}-{case[5]}-op{case[6]}-{case[8][9:]}"


@pytest.mark.parametrize("case", CONV_TRANSPOSE_CASES, ids=_transpose_case_id)
def test_conv_transpose_gradients(case):
    spatial, channels, kernel_size, filters, strides, padding, output_padding, dilation, data_format = (
        case
    )
    np_rng = np.random.default_rng(len(spatial) * 10 + channels + 1)
    shape = (1, *spatial, channels) if data_format == "channels_last" else (1, channels, *spatial)
    y = np_rng.standard_normal(shape)
    kernel = np_rng.standard_normal((*kernel_size, filters, channels))

    def library(y, kernel):
        return sops.conv_transpose(y, kernel, strides, padding, output_padding, dilation, data_format)

    def numpy_reference(y, kernel):
        return reference.conv_transpose_reference(y, kernel, strides, padding, output_padding,
                                                  dilation, data_format)

    weights = np_rng.standard_normal(numpy_reference(y, kernel).shape)
    _check(library, numpy_reference, [y, kernel], weights)


def test_gradient_helper_against_closed_form():
    """The autodiff helper itself: d/dx sum(x * x * w) == 2 x w, d/dw == x * x."""
    np_rng = np.random.default_rng(0)
    x, w = np_rng.standard_normal((2, 3)), np_rng.standard_normal((2, 3))
    gx, gw = autodiff_gradients(lambda a, b: keras.ops.sum(a * a * b), x, w)
    np.testing.assert_allclose(gx, 2 * x * w, rtol=1e-12)
    np.testing.assert_allclose(gw, x * x, rtol=1e-12)
    numeric = reference.numerical_gradient(lambda a: np.sum(a * a * w), x)
    np.testing.assert_allclose(numeric, 2 * x * w, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    ("rank", "groups"),
    [(1, 2), (2, 2), (3, 1), (3, 2)],
    ids=["rank1-grouped", "rank2-grouped", "rank3-plain", "rank3-grouped"],
)
def test_conv_gradients_minimal(rank, groups):
    """The plainest cases ("valid", zeros, stride 1): isolates grouped and rank-3 gradients."""
    np_rng = np.random.default_rng(rank + 10 * groups)
    x = np_rng.standard_normal((1, *(3,) * rank, 2))
    kernel = np_rng.standard_normal((*(2,) * rank, 2 // groups, 2))
    pairs = [(0, 0)] * rank

    def library(x, kernel):
        return sops.conv(x, kernel, groups=groups)

    def numpy_reference(x, kernel):
        return reference.conv_reference(x, kernel, 1, pairs, 1, groups)

    weights = np_rng.standard_normal(numpy_reference(x, kernel).shape)
    _check(library, numpy_reference, [x, kernel], weights)


def _check_float32(library, numpy_reference, arrays, weights):
    """float32 autodiff of `sum(library(*arrays) * weights)` against central differences of the float64
    reference, w.r.t. every array (to 1e-4 of the largest gradient)."""
    gradients = autodiff_gradients(
        lambda *tensors: keras.ops.sum(library(*tensors) * tensor(weights, "float32")), *arrays,
        dtype="float32")
    for index, (array, gradient) in enumerate(zip(arrays, gradients)):
        def loss(value, index=index):
            return np.sum(numpy_reference(*[value if i == index else a for i, a in enumerate(arrays)])
                          * weights)

        expected = reference.numerical_gradient(loss, array, eps=1e-3)
        scale = max(np.max(np.abs(expected)), 1.0)
        np.testing.assert_allclose(gradient, expected, rtol=1e-4, atol=1e-4 * scale)


# Where oneDNN's float32 kernels (torch, TensorFlow) went wrong (`_backend.in_one_window_form`):
# (transposed, spatial, kernel_size, strides, channels, filters).
ONEDNN_CASES = [
    # one input channel, one output position along a strided last axis after an unstrided one
    (False, (5, 4), (2, 3), (1, 2), 1, 2),
    (False, (5, 3, 4), (3, 2, 3), (1, 1, 3), 1, 3),
    # transposed into one filter from a strided last axis of one sample (its input gradient is the above)
    (True, (3, 1), (3, 3), (1, 2), 2, 1),
    (True, (2, 2, 1), (3, 3, 2), (1, 1, 3), 3, 1),
]


def _onednn_case_id(case):
    return f"{'transposed' if case[0] else 'conv'}-r{len(case[1])}"


@pytest.mark.parametrize("case", ONEDNN_CASES, ids=_onednn_case_id)
def test_float32_gradients_where_onednn_went_wrong(case):
    transposed, spatial, kernel_size, strides, channels, filters = case
    np_rng = np.random.default_rng(len(spatial))
    x = np_rng.standard_normal((2, *spatial, channels))
    if transposed:
        kernel = np_rng.standard_normal((*kernel_size, filters, channels))

        def numpy_reference(x, kernel):
            return reference.conv_transpose_reference(x, kernel, strides)

        def library(x, kernel):
            return sops.conv_transpose(x, kernel, strides, algorithm="direct")
    else:
        kernel = np_rng.standard_normal((*kernel_size, channels, filters))

        def numpy_reference(x, kernel):
            return reference.conv_reference(x, kernel, strides, [(0, 0)] * len(spatial), 1)

        def library(x, kernel):
            return sops.conv(x, kernel, strides, algorithm="direct")
    weights = np_rng.standard_normal(numpy_reference(x, kernel).shape)
    _check_float32(library, numpy_reference, [x, kernel], weights)
