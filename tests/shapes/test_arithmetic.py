"""`structconv.shapes.arithmetic` against brute-force window counting and Keras's own shape rules."""

import itertools

import keras
import pytest
import reference

from structconv.errors import StructconvError
from structconv.shapes import arithmetic

SIZES = range(1, 12)
KERNELS = (1, 2, 3, 4, 5)
STRIDES = (1, 2, 3)
DILATIONS = (1, 2, 3)
PADDINGS = ("valid", "same", "full", "causal", 0, 1, 3, (0, 2), (3, 1), (2, 0))


def count_windows(size, kernel_size, stride, dilation, before, after):
    """Counts window start positions over the padded input whose taps all fall inside it."""
    padded = size + before + after
    starts = [
        start
        for start in range(0, padded, stride)
        if all(start + tap * dilation < padded for tap in range(kernel_size))
    ]
    return len(starts)


def _grid():
    return itertools.product(SIZES, KERNELS, STRIDES, DILATIONS, PADDINGS)


def test_conv_output_size_matches_window_count():
    checked = 0
    for size, kernel_size, stride, dilation, padding in _grid():
        before, after = reference.axis_pads(padding, size, kernel_size, stride, dilation)
        expected = count_windows(size, kernel_size, stride, dilation, before, after)
        result = arithmetic.conv_output_size(size, kernel_size, stride, padding, dilation)
        assert result == expected, (size, kernel_size, stride, dilation, padding)
        checked += 1
    assert checked == len(SIZES) * len(KERNELS) * len(STRIDES) * len(DILATIONS) * len(PADDINGS)


def test_same_gives_ceil_of_size_over_stride():
    for size, kernel_size, stride, dilation in itertools.product(SIZES, KERNELS, STRIDES, DILATIONS):
        before, after = arithmetic.resolve_axis_padding("same", size, kernel_size, stride, dilation)
        assert 0 <= after - before <= 1
        assert count_windows(size, kernel_size, stride, dilation, before, after) == -(-size // stride)
        assert arithmetic.conv_output_size(size, kernel_size, stride, "same", dilation) == -(
            -size // stride
        )


def test_resolve_axis_padding_matches_reference():
    for size, kernel_size, stride, dilation, padding in _grid():
        entry = arithmetic.normalize_padding((padding,), 1)[0]
        assert arithmetic.resolve_axis_padding(entry, size, kernel_size, stride, dilation) == (
            reference.axis_pads(padding, size, kernel_size, stride, dilation)
        ), (size, kernel_size, stride, dilation, padding)


def test_resolve_axis_padding_documented_example():
    # ResNet's stem: 224 inputs, 7x7 kernel, stride 2 -> 112 outputs, the odd pad at the end.
    assert arithmetic.resolve_axis_padding("same", 224, 7, 2) == (2, 3)
    assert reference.same_pads(224, 7, 2) == (2, 3)


@pytest.mark.parametrize("entry", ["valid", "full", "causal", (1, 2)])
def test_resolve_axis_padding_unknown_size(entry):
    """Padding that does not depend on the input size is resolved without it."""
    for kernel_size, stride, dilation in itertools.product(KERNELS, STRIDES, DILATIONS):
        assert arithmetic.resolve_axis_padding(entry, None, kernel_size, stride, dilation) == (
            reference.axis_pads(entry, 0, kernel_size, stride, dilation)
        )


def test_resolve_axis_padding_same_unknown_size():
    for kernel_size, dilation in itertools.product(KERNELS, DILATIONS):
        # With stride 1, "same" padding does not depend on the size: compare with any known size.
        assert arithmetic.resolve_axis_padding("same", None, kernel_size, 1, dilation) == (
            reference.same_pads(50, kernel_size, 1, dilation)
        )
        assert arithmetic.resolve_axis_padding("same", None, kernel_size, 2, dilation) is None


def test_conv_output_size_unknown_size():
    assert arithmetic.conv_output_size(None, 3, 2, "same") is None
    assert arithmetic.conv_transpose_output_size(None, 3, 2, "same") is None


def _keras_transpose_length(size, kernel_size, stride, padding, output_padding, dilation):
    """The output length Keras's `conv_transpose` gives, from a symbolic call (no computation)."""
    inputs = keras.KerasTensor((1, size, 1))
    kernel = keras.KerasTensor((kernel_size, 1, 1))
    output = keras.ops.conv_transpose(
        inputs, kernel, stride, padding, output_padding=output_padding, dilation_rate=dilation,
        data_format="channels_last",
    )
    return output.shape[1]


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv_transpose_output_size_matches_keras(padding):
    for size, kernel_size, stride, dilation in itertools.product(
        range(1, 7), KERNELS, STRIDES, DILATIONS
    ):
        for output_padding in (None, *range(stride)):
            expected = _keras_transpose_length(size, kernel_size, stride, padding, output_padding,
                                               dilation)
            result = arithmetic.conv_transpose_output_size(size, kernel_size, stride, padding,
                                                           output_padding, dilation)
            assert result == expected, (size, kernel_size, stride, dilation, padding, output_padding)
            assert result == reference.conv_transpose_output_length(
                size, kernel_size, stride, padding, output_padding, dilation
            )


@pytest.mark.parametrize("padding", ["full", "causal", 0, 2, (0, 2), (3, 1)])
def test_conv_transpose_output_size_inverts_forward(padding):
    """For the other forms, the length `L` whose forward convolution gives back `size` outputs, plus
    `output_padding`."""
    checked = 0
    for size, kernel_size, stride, dilation in itertools.product(
        range(1, 8), KERNELS, STRIDES, DILATIONS
    ):
        entry = arithmetic.normalize_padding((padding,), 1)[0]
        for output_padding in (None, *range(stride)):
            length = arithmetic.conv_transpose_output_size(
                size, kernel_size, stride, entry, output_padding, dilation
            )
            assert length == reference.conv_transpose_output_length(
                size, kernel_size, stride, padding, output_padding, dilation
            )
            if length < 1:
                continue  # no output: `conv_transpose` rejects these (see test_errors)
            before, after = reference.axis_pads(padding, length, kernel_size, stride, dilation)
            assert count_windows(length, kernel_size, stride, dilation, before, after) == size
            # The smallest such length, plus output_padding.
            shorter = length - (output_padding or 0) - 1
            if shorter >= 0:
                assert count_windows(shorter, kernel_size, stride, dilation, before, after) < size
            checked += 1
    assert checked > 100


def test_normalize_tuple():
    assert arithmetic.normalize_tuple(3, 2, "kernel_size") == (3, 3)
    assert arithmetic.normalize_tuple([1, 2, 3], 3, "strides") == (1, 2, 3)
    assert arithmetic.normalize_tuple(0, 2, "output_padding", minimum=0) == (0, 0)
    for bad in (0, -1, (1, 0), (1, 2, 3), 1.0, True, "2", None):
        with pytest.raises(StructconvError, match=r"Invalid `strides`: received "):
            arithmetic.normalize_tuple(bad, 2, "strides")


def test_normalize_padding():
    assert arithmetic.normalize_padding("same", 2) == ("same", "same")
    assert arithmetic.normalize_padding("FULL", 1) == ("full",)
    assert arithmetic.normalize_padding(2, 3) == ((2, 2),) * 3
    assert arithmetic.normalize_padding(("causal", "same", (0, 2)), 3) == (
        "causal", "same", (0, 2)
    )
    assert arithmetic.normalize_padding([1, [2, 3]], 2) == ((1, 1), (2, 3))
    assert arithmetic.normalize_padding(((1, 2),), 1) == ((1, 2),)
    for bad in ("sam", -1, (1, 2, 3), ("same", (1, -1)), ((1, 2, 3), 0), 1.5, None):
        with pytest.raises(StructconvError, match=r"Invalid `padding`: received "):
            arithmetic.normalize_padding(bad, 2)


def test_one_window_form_is_the_same_convolution():
    """Where an axis has one output position, the stride-1 form reads the same samples: the NumPy
    reference gives the same result from the cut input with the new strides and padding."""
    import numpy as np

    rng = np.random.default_rng(0)
    changed = 0
    for size, kernel_size, stride, dilation, before, after in itertools.product(
            range(1, 8), (1, 2, 3), (1, 2, 3), (1, 2), (0, 1, 3), (0, 2)):
        extent = (kernel_size - 1) * dilation + 1
        if size + before + after < extent:
            continue
        spatial, kernel = (size, 3), (kernel_size, 2)
        strides, padding, dilations = (stride, 1), ((before, after), (0, 0)), (dilation, 1)
        new_strides, lengths, new_padding = arithmetic.one_window_form(spatial, kernel, strides, padding,
                                                                       dilations)
        assert new_strides[1:] == (1,) and lengths[1] is None and new_padding[1] == (0, 0)
        if lengths[0] is None:
            assert (new_strides[0], new_padding[0]) == (stride, (before, after))
            continue
        changed += 1
        assert new_strides[0] == 1
        x = rng.standard_normal((1, *spatial, 1))
        k = rng.standard_normal((*kernel, 1, 1))
        expected = reference.conv_reference(x, k, strides, padding, dilations)
        assert expected.shape[1] == 1
        got = reference.conv_reference(x[:, :lengths[0]], k, new_strides, new_padding, dilations)
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert changed > 50


def test_one_window_form_leaves_unknown_axes():
    assert arithmetic.one_window_form((None, 4), (3, 3), (2, 2), (None, (0, 0)), (1, 1)) == (
        (2, 1), (None, 3), (None, (0, 0)))


def test_one_input_strides():
    assert arithmetic.one_input_strides((1, 2, 1, None), (3, 3, 1, 2)) == (1, 3, 1, 2)
