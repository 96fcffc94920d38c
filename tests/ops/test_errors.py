"""Bad arguments raise `StructconvError` (a `ValueError`) or `TypeError`, naming the argument and the
value received."""

import re

import numpy as np
import pytest
from conftest import to_numpy

from structconv import ops as sops
from structconv.errors import StructconvError


def _x(spatial=(6,), channels=2, dtype="float32"):
    return np.zeros((1, *spatial, channels), dtype)


def _k(kernel_size=(3,), in_channels=2, filters=4, dtype="float32"):
    return np.zeros((*kernel_size, in_channels, filters), dtype)


def _message(name, received):
    """The start of the library's message: the argument's name, then the value received."""
    return re.escape(f"Invalid `{name}`: received {received}")


def test_structconv_error_is_a_value_error():
    assert issubclass(StructconvError, ValueError)


CONV_ERRORS = [
    # (id, inputs, kernel, keyword arguments, argument name, received value as printed)
    ("kernel-rank", _x((6, 6)), _k((3,)), {}, "kernel", "'a tensor of shape (3, 2, 4)'"),
    ("kernel-rank-higher", _x((6,)), _k((3, 3)), {}, "kernel", "'a tensor of shape (3, 3, 2, 4)'"),
    ("channels-mismatch", _x((6,), 3), _k((3,), 2), {}, "kernel", "'a tensor of shape (3, 2, 4)'"),
    ("channels-not-divisible", _x((6,), 4), _k((3,), 1, 3), {"groups": 3}, "groups", "3"),
    ("filters-not-divisible", _x((6,), 4), _k((3,), 2, 3), {"groups": 2}, "groups", "2"),
    ("groups-zero", _x(), _k(), {"groups": 0}, "groups", "0"),
    ("strides-zero", _x(), _k(), {"strides": 0}, "strides", "0"),
    ("strides-negative", _x((6, 6)), _k((3, 3)), {"strides": (1, -2)}, "strides", "(1, -2)"),
    ("strides-wrong-length", _x((6, 6)), _k((3, 3)), {"strides": (1, 2, 1)}, "strides", "(1, 2, 1)"),
    ("strides-float", _x(), _k(), {"strides": 1.5}, "strides", "1.5"),
    ("dilation-zero", _x(), _k(), {"dilation_rate": 0}, "dilation_rate", "0"),
    ("dilation-negative", _x(), _k(), {"dilation_rate": -1}, "dilation_rate", "-1"),
    ("kernel-size-zero", _x((6, 6)), _k((0, 3)), {}, "kernel", "'a tensor of shape (0, 3, 2, 4)'"),
    ("padding-unknown", _x(), _k(), {"padding": "sam"}, "padding", "'sam'"),
    ("padding-negative", _x(), _k(), {"padding": -1}, "padding", "-1"),
    ("padding-axes", _x((6, 6)), _k((3, 3)), {"padding": ("same", 1, 0)}, "padding",
     "('same', 1, 0)"),
    ("padding-axes-short", _x((6, 6, 6)), _k((3, 3, 3)), {"padding": ("same", "valid")}, "padding",
     "('same', 'valid')"),
    ("padding-bad-pair", _x((6, 6)), _k((3, 3)), {"padding": ((1, 2, 3), 0)}, "padding",
     "((1, 2, 3), 0)"),
    ("padding-mode-unknown", _x(), _k(), {"padding": 1, "padding_mode": "mirror"}, "padding_mode",
     "'mirror'"),
    ("valid-kernel-too-large", _x((4,)), _k((5,)), {}, "kernel_size", "(5,)"),
    ("valid-dilated-kernel-too-large", _x((6, 6)), _k((2, 3)), {"dilation_rate": (1, 3)},
     "kernel_size", "(2, 3)"),
    ("reflect-as-large-as-input", _x((3,)), _k((3,)), {"padding": 3, "padding_mode": "reflect"},
     "padding", "(3, 3)"),
    ("circular-larger-than-input", _x((3,)), _k((3,)), {"padding": (0, 4), "padding_mode": "circular"},
     "padding", "(0, 4)"),
    ("data-format-unknown", _x(), _k(), {"data_format": "NHWC"}, "data_format", "'NHWC'"),
    ("inputs-rank-too-low", np.zeros((2, 3), "float32"), _k(), {}, "inputs",
     "'a tensor of shape (2, 3)'"),
]


@pytest.mark.parametrize(
    ("inputs", "kernel", "kwargs", "name", "received"),
    [case[1:] for case in CONV_ERRORS],
    ids=[case[0] for case in CONV_ERRORS],
)
def test_conv_rejects(inputs, kernel, kwargs, name, received):
    with pytest.raises(StructconvError, match=_message(name, received)):
        sops.conv(inputs, kernel, **kwargs)


def test_a_rejected_call_raises_again_after_a_valid_one_of_the_same_shapes():
    """The checks are cached per shapes and arguments (`ops.conv.checked_padding`); their errors are not."""
    x, kernel = _x((3,)), _k((3,))
    sops.conv(x, kernel, padding=2, padding_mode="reflect")
    for _ in range(2):
        with pytest.raises(StructconvError, match=_message("padding", "(3, 3)")):
            sops.conv(x, kernel, padding=3, padding_mode="reflect")
        with pytest.raises(StructconvError, match=_message("kernel", "'a tensor of shape (3, 3, 4)'")):
            sops.conv(x, _k((3,), 3))


def test_reflect_padding_just_below_input_size_is_accepted():
    """The boundary of "reflect padding as large as the input": one less is valid (and computed)."""
    x = np.arange(3, dtype="float32").reshape(1, 3, 1)
    y = sops.conv(x, np.ones((1, 1, 1), "float32"), padding=2, padding_mode="reflect")
    expected = np.pad(np.arange(3.0), 2, mode="reflect")
    np.testing.assert_allclose(to_numpy(y).ravel(), expected)


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool"])
@pytest.mark.parametrize("operand", ["inputs", "kernel"])
def test_conv_rejects_non_float_dtypes(dtype, operand):
    x, kernel = _x(), _k()
    if operand == "inputs":
        x = x.astype(dtype)
    else:
        kernel = kernel.astype(dtype)
    with pytest.raises(TypeError, match=rf"Invalid `{operand}`: received a tensor of dtype .*{dtype}"):
        sops.conv(x, kernel)


def _kt(kernel_size=(3,), filters=4, in_channels=2):
    return np.zeros((*kernel_size, filters, in_channels), "float32")


CONV_TRANSPOSE_ERRORS = [
    ("output-padding-equal-stride", _x(), _kt(), {"strides": 2, "output_padding": 2},
     "output_padding", "2"),
    ("output-padding-above-stride", _x((4, 4)), _kt((3, 3)),
     {"strides": (2, 3), "output_padding": (1, 3)}, "output_padding", "(1, 3)"),
    ("output-padding-no-stride", _x(), _kt(), {"output_padding": 1}, "output_padding", "1"),
    ("output-padding-negative", _x(), _kt(), {"strides": 2, "output_padding": -1}, "output_padding",
     "-1"),
    ("kernel-rank", _x((4, 4)), _kt((3,)), {}, "kernel", "'a tensor of shape (3, 4, 2)'"),
    ("channels-mismatch", _x((4,), 3), _kt((3,), 4, 2), {}, "kernel", "'a tensor of shape (3, 4, 2)'"),
    ("kernel-size-zero", _x(), _kt((0,)), {}, "kernel", "'a tensor of shape (0, 4, 2)'"),
    ("strides-zero", _x(), _kt(), {"strides": 0}, "strides", "0"),
    ("dilation-negative", _x(), _kt(), {"dilation_rate": -2}, "dilation_rate", "-2"),
    ("padding-unknown", _x(), _kt(), {"padding": "reflect"}, "padding", "'reflect'"),
    ("padding-axes", _x((4, 4)), _kt((3, 3)), {"padding": ("same",)}, "padding", "('same',)"),
    ("empty-output", _x((2,)), _kt((5,)), {"padding": "full"}, "padding", "('full',)"),
    ("data-format-unknown", _x(), _kt(), {"data_format": "channels_middle"}, "data_format",
     "'channels_middle'"),
]


@pytest.mark.parametrize(
    ("inputs", "kernel", "kwargs", "name", "received"),
    [case[1:] for case in CONV_TRANSPOSE_ERRORS],
    ids=[case[0] for case in CONV_TRANSPOSE_ERRORS],
)
def test_conv_transpose_rejects(inputs, kernel, kwargs, name, received):
    with pytest.raises(StructconvError, match=_message(name, received)):
        sops.conv_transpose(inputs, kernel, **kwargs)


def test_conv_transpose_rejects_integer_inputs():
    with pytest.raises(TypeError, match=r"Invalid `inputs`: received a tensor of dtype .*int32"):
        sops.conv_transpose(_x(dtype="int32"), _kt())
