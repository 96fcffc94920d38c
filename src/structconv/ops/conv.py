"""`conv`: N-dimensional convolution with every padding form and mode, on any Keras backend."""

import keras
from keras import ops

from structconv._backend import get_backend
from structconv.errors import invalid_argument
from structconv.ops.arguments import (
    check_kernel,
    check_run_time_padding,
    choose_for_conv,
    conv_arguments,
    resolve_padding,
    split_shape,
)
from structconv.ops.decomposition import decomposed_conv
from structconv.ops.fft_conv import fft_conv
from structconv.ops.padding import pad_spatial


def as_float_tensors(inputs, kernel):
    """Converts both operands to tensors of one floating dtype, as `keras.ops.conv` does."""
    inputs = ops.convert_to_tensor(inputs)
    kernel = ops.convert_to_tensor(kernel)
    for name, value in (("inputs", inputs), ("kernel", kernel)):
        if "float" not in str(value.dtype):
            raise TypeError(
                f"Invalid `{name}`: received a tensor of dtype {value.dtype}. Expected a floating dtype "
                "(float16, bfloat16, float32 or float64)."
            )
    dtype = promote_float_dtypes(inputs.dtype, kernel.dtype)
    return ops.cast(inputs, dtype), ops.cast(kernel, dtype)


_FLOAT_WIDTH = {"float16": 16, "bfloat16": 16, "float32": 32, "float64": 64}


def promote_float_dtypes(first, second):
    """The common floating dtype of two operands: the wider one, float32 for float16 with bfloat16.

    (`keras.backend.result_type` is not used: it maps float64 to float32 in some configurations.)
    """
    first, second = keras.backend.standardize_dtype(first), keras.backend.standardize_dtype(second)
    if first == second:
        return first
    width = max(_FLOAT_WIDTH[first], _FLOAT_WIDTH[second])
    return "float64" if width == 64 else "float32"


def input_rank(inputs, name="inputs"):
    rank = len(inputs.shape) - 2
    if rank < 1:
        raise invalid_argument(
            name,
            f"a tensor of shape {tuple(inputs.shape)}",
            "a tensor of rank >= 3: (batch, spatial axes..., channels) or channels_first",
        )
    return rank


def conv(inputs, kernel, strides=1, padding="valid", dilation_rate=1, groups=1, data_format=None, *,
         padding_mode="zeros", algorithm="auto"):
    """N-dimensional convolution (cross-correlation, as in every deep-learning framework).

    The rank (number of spatial axes) is `inputs.ndim - 2`, any rank >= 1. Ranks 1-3 run the backend's
    native convolution; above that the convolution is decomposed onto the backend's native convolution
    (see `structconv.ops.decomposition`), exactly, gradients included.

    Args:
        inputs: tensor of shape `(batch, *spatial, channels)` (channels_last) or
            `(batch, channels, *spatial)` (channels_first).
        kernel: tensor of shape `(*kernel_size, channels // groups, filters)`, as Keras.
        strides: int or tuple of `rank` ints >= 1.
        padding: `"valid"`, `"same"` (output `ceil(n / stride)`, the odd extra pad at the end), `"full"`
            (`(k - 1) * d` on both sides), `"causal"` (`(k - 1) * d` before only), an int (both sides), or a
            tuple with one entry per spatial axis, each one of these or a `(before, after)` pair.
        dilation_rate: int or tuple of `rank` ints >= 1. May be combined with `strides > 1`.
        groups: int >= 1 dividing both the input channels and the filters.
        data_format: `"channels_last"`, `"channels_first"`, or `None` for
            `keras.config.image_data_format()`.
        padding_mode: what the padding holds: `"zeros"`, `"reflect"` (`1234 -> 32|1234|32`),
            `"replicate"` (`11|1234|44`) or `"circular"` (`34|1234|12`).
        algorithm: `"direct"`, `"fft"` (same results, computed by FFT: faster for large kernels), or
            `"auto"` (default): the faster of the two by a cost model calibrated per backend, never FFT
            above the memory budget of `structconv.config`. See `structconv.ops.algorithm`.

    Returns:
        Tensor of shape `(batch, *output_spatial, filters)` (or channels_first), where each output size is
        `structconv.shapes.conv_output_size(n, k, stride, padding, dilation)`.

    Example:

    >>> import numpy as np
    >>> x = np.ones((1, 6, 6, 6, 6, 2), "float32")  # a rank-4 input
    >>> k = np.ones((3, 3, 3, 3, 2, 4), "float32")
    >>> y = conv(x, k, strides=2, padding="same")
    >>> tuple(y.shape)
    (1, 3, 3, 3, 3, 4)
    """
    inputs, kernel = as_float_tensors(inputs, kernel)
    args = conv_arguments(
        input_rank(inputs),
        strides,
        padding,
        dilation_rate,
        groups,
        data_format,
        padding_mode,
        default_data_format=keras.config.image_data_format(),
        algorithm=algorithm,
    )
    spatial, channels = split_shape(tuple(inputs.shape), args.data_format)
    kernel_size = check_kernel(tuple(kernel.shape), channels, args)
    return conv_with_padding(inputs, kernel, args, resolve_padding(spatial, kernel_size, args))


def conv_with_padding(inputs, kernel, args, padding):
    """The convolution once arguments are checked and `padding` resolved to `(before, after)` pairs."""
    backend = get_backend()
    check_run_time_padding(padding, args, backend)
    if choose_for_conv(inputs, kernel, args, padding) == "fft":
        return fft_conv(inputs, kernel, args, padding)
    if args.padding_mode != "zeros" and any(any(pair) for pair in padding if pair is not None):
        inputs = pad_spatial(inputs, padding, args.padding_mode, args.data_format)
        padding = ((0, 0),) * args.rank
    if args.rank <= 3:
        return backend.conv(
            inputs, kernel, args.strides, padding, args.dilation_rate, args.groups, args.data_format
        )
    return decomposed_conv(
        inputs,
        kernel,
        args,
        padding,
        backend.conv,
        backend.DECOMPOSE_TO_RANK,
        backend.PREFERRED_DATA_FORMAT,
    )
