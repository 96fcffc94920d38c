"""`conv`: N-dimensional convolution with every padding form and mode, on any Keras backend."""

import functools

import keras
from keras import ops

from structconv._backend import get_backend
from structconv.errors import invalid_argument
from structconv.ops.arguments import (
    check_input_rank,
    check_kernel,
    check_run_time_padding,
    conv_arguments,
    resolve_padding,
    split_shape,
)
from structconv.ops.execute import execute
from structconv.ops.make_problem import conv_problem
from structconv.ops.planner import plan_conv
from structconv.ops.tracing import unless_symbolic


def as_float_tensors(inputs, kernel):
    """Converts both operands to tensors of one floating dtype, as `keras.ops.conv` does (on Keras's
    device: torch moves a tensor there)."""
    inputs = ops.convert_to_tensor(inputs)
    kernel = ops.convert_to_tensor(kernel)
    if inputs.dtype == kernel.dtype and _is_float(inputs.dtype):
        return inputs, kernel  # what the checks and casts below return, without their 4-8 us a call
    for name, value in (("inputs", inputs), ("kernel", kernel)):
        if "float" not in str(value.dtype):
            raise TypeError(
                f"Invalid `{name}`: received a tensor of dtype {value.dtype}. Expected a floating dtype "
                "(float16, bfloat16, float32 or float64)."
            )
    dtype = promote_float_dtypes(inputs.dtype, kernel.dtype)
    return ops.cast(inputs, dtype), ops.cast(kernel, dtype)


@functools.lru_cache(maxsize=64)
def _is_float(dtype):
    return "float" in keras.backend.standardize_dtype(dtype)


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
            `"auto"` (default): the fastest way to run it on this machine, by a cost model calibrated per
            backend and, where the model is not clearly sure, by timing the candidates once (remembered
            in a plan file); never FFT above the memory budget of `structconv.config`. See
            `structconv.ops.planner` and `explain_choice`.

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
    return conv_with_arguments(inputs, kernel, args)


def prepare_conv(inputs, kernel, args, training=None, shapes=None):
    """`(problem, plan)` of `conv` of float tensors of one dtype with checked `args`: the tensors' shapes
    checked against the arguments, the padding resolved, the plan made (each cached per shapes). `shapes`:
    `(input_shape, kernel_shape)` of the operands where they are made from `inputs` and `kernel` inside the
    program (`make_problem.conv_problem`)."""
    input_shape, kernel_shape = shapes or (tuple(inputs.shape), tuple(kernel.shape))
    padding = unless_symbolic(checked_padding, input_shape, kernel_shape)(input_shape, kernel_shape, args,
                                                                          get_backend())
    problem = conv_problem(inputs, kernel, (input_shape, kernel_shape), args, padding, training)
    return problem, plan_conv(problem, args.algorithm)


@functools.lru_cache(maxsize=1024)
def checked_padding(input_shape, kernel_shape, args, backend):
    """The resolved padding of `conv` of tensors of these shapes with checked `args` on `backend`, the
    shapes checked against the arguments. Cached per key (an eager loop repeats them); errors are not
    cached, so bad input raises on every call (`tracing.unless_symbolic`)."""
    check_input_rank(input_shape, args.rank)
    spatial, channels = split_shape(input_shape, args.data_format)
    kernel_size = check_kernel(kernel_shape, channels, args)
    padding = resolve_padding(spatial, kernel_size, args)
    check_run_time_padding(padding, args, backend)
    return padding


def conv_with_arguments(inputs, kernel, args, training=None):
    """`conv` of float tensors of one dtype (`as_float_tensors`) with checked `args` (as a layer holds
    them); `training` whether the gradient will be taken (None: ask the backend)."""
    problem, plan = prepare_conv(inputs, kernel, args, training)
    return execute(plan, problem, inputs, kernel)
