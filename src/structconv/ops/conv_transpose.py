"""`conv_transpose`: the exact adjoint of `conv`, for any rank."""

import functools

import keras

from structconv._backend import get_backend
from structconv.errors import invalid_argument
from structconv.ops.arguments import check_input_rank, check_kernel, conv_arguments, split_shape
from structconv.ops.conv import as_float_tensors, input_rank
from structconv.ops.execute import execute
from structconv.ops.make_problem import conv_problem
from structconv.ops.padding import pad_axis, slice_axis
from structconv.ops.planner import plan_conv
from structconv.ops.tracing import unless_symbolic
from structconv.shapes import arithmetic


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, dilation_rate=1,
                   data_format=None, *, algorithm="auto"):
    """N-dimensional transposed convolution: the adjoint (gradient) of `conv` with the same arguments.

    For every `x` of the output's shape and `y` of the input's shape,
    `sum(conv(x, k, ...) * y) == sum(x * conv_transpose(y, k, ...))` with the same kernel array `k`: a
    transposed kernel `(*kernel_size, filters, in_channels)` is the forward kernel from `filters` to
    `in_channels` channels (`tests/ops/test_conv_transpose.py` checks it). For ranks 1-3 and `padding`
    `"valid"` or `"same"` the result equals `keras.ops.conv_transpose`.

    Args:
        inputs: tensor of shape `(batch, *spatial, in_channels)` (channels_last) or channels_first.
        kernel: tensor of shape `(*kernel_size, filters, in_channels)`, as Keras.
        strides: int or tuple of `rank` ints >= 1.
        padding: any padding form of `conv`: the padding of the forward convolution this is the adjoint of.
        output_padding: `None` or an int or tuple of ints, each smaller than its stride: extra length at
            the end of each axis. `None` follows Keras (`"valid"`: `n * s + max(extent - s, 0)`,
            `"same"`: `n * s`).
        dilation_rate: int or tuple of `rank` ints >= 1.
        data_format: `"channels_last"`, `"channels_first"`, or `None` for
            `keras.config.image_data_format()`.
        algorithm: `"direct"`, `"fft"` or `"auto"`, as for `conv`.

    Returns:
        Tensor of shape `(batch, *output_spatial, filters)` (or channels_first), each output size given by
        `structconv.shapes.conv_transpose_output_size`.

    Example:

    >>> import numpy as np
    >>> y = np.ones((1, 4, 4, 4, 4, 3), "float32")
    >>> k = np.ones((3, 3, 3, 3, 2, 3), "float32")
    >>> tuple(conv_transpose(y, k, strides=2, padding="same").shape)
    (1, 8, 8, 8, 8, 2)
    """
    inputs, kernel = as_float_tensors(inputs, kernel)
    args = conv_arguments(
        input_rank(inputs),
        strides,
        padding,
        dilation_rate,
        data_format=data_format,
        output_padding=output_padding,
        default_data_format=keras.config.image_data_format(),
        algorithm=algorithm,
    )
    return conv_transpose_with_arguments(inputs, kernel, args)


def prepare_conv_transpose(inputs, kernel, args, training=None, shapes=None):
    """`(problem, plan)` of `conv_transpose` of float tensors of one dtype with checked `args`: the tensors
    checked against them, the plan of the full transposed convolution made (each cached per shapes).
    `shapes`: `(input_shape, kernel_shape)` of the operands where they are made from `inputs` and `kernel`
    inside the program (`make_problem.conv_problem`)."""
    input_shape, kernel_shape = shapes or (tuple(inputs.shape), tuple(kernel.shape))
    unless_symbolic(checked_shapes, input_shape, kernel_shape)(input_shape, kernel_shape, args)
    problem = conv_problem(inputs, kernel, (input_shape, kernel_shape), args, None, training, transposed=True)
    return problem, plan_conv(problem, args.algorithm)


@functools.lru_cache(maxsize=1024)
def checked_shapes(input_shape, kernel_shape, args):
    """Raises unless tensors of these shapes fit `conv_transpose` with checked `args`. Cached per key (an
    eager loop repeats them); errors are not cached (`tracing.unless_symbolic`)."""
    check_input_rank(input_shape, args.rank)
    spatial, channels = split_shape(input_shape, args.data_format)
    kernel_size = check_kernel(kernel_shape, channels, args, transposed=True)
    check_transposed_output_sizes(spatial, kernel_size, args)


def conv_transpose_with_arguments(inputs, kernel, args, training=None):
    """`conv_transpose` of float tensors of one dtype (`as_float_tensors`) with checked `args` (as a layer
    holds them); `training` whether the gradient will be taken (None: ask the backend)."""
    problem, plan = prepare_conv_transpose(inputs, kernel, args, training)
    return run_conv_transpose(plan, problem, inputs, kernel, args)


def check_transposed_output_sizes(spatial, kernel_size, args):
    """Raises unless every known output size is at least 1."""
    for axis, (n, k, s, d, entry, extra) in enumerate(
        zip(spatial, kernel_size, args.strides, args.dilation_rate, args.padding, args.output_padding)
    ):
        size = arithmetic.conv_transpose_output_size(n, k, s, entry, extra, d)
        if size is not None and size < 1:
            raise invalid_argument(
                "padding",
                args.padding,
                f"a padding that leaves a non-empty output (spatial axis {axis} would have {size})",
            )


def run_conv_transpose(plan, problem, inputs, kernel, args):
    """Runs `plan` for the full transposed convolution, then crops it as `args` say: one staged program
    (`staged` of the backend; eagerly, TensorFlow's crop op by op had doubled a small call: 2-D 16^2
    stride 2, k=3, 4 -> 4: 892-958 us against `keras.ops.conv_transpose`'s 514-524)."""
    return get_backend().staged(full_then_cropped, (plan, problem, args), inputs, kernel)


def full_then_cropped(plan, problem, args, inputs, kernel):
    """`conv_transpose` by `plan`: the full transposed convolution, cropped as `args` say (unstaged: the
    body of `run_conv_transpose`'s program, and of `complex_conv_transpose`'s)."""
    full = execute(plan, problem, inputs, kernel)
    first = 1 if args.data_format == "channels_last" else 2
    spatial, _ = split_shape(tuple(inputs.shape), args.data_format)
    kernel_size = tuple(kernel.shape[:args.rank])
    crops = unless_symbolic(_crops, spatial, kernel_size)(spatial, kernel_size, args)
    for axis, (start, end_crop) in enumerate(crops):
        full = slice_axis(full, first + axis, start, -end_crop if end_crop > 0 else None)
        if end_crop < 0:
            full = pad_axis(full, first + axis, 0, -end_crop)
    return full


@functools.lru_cache(maxsize=1024)
def _crops(spatial, kernel_size, args):
    """`transposed_crop` of each spatial axis, cached per key."""
    return tuple(transposed_crop(n, k, s, d, entry, extra) for n, k, s, d, entry, extra in zip(
        spatial, kernel_size, args.strides, args.dilation_rate, args.padding, args.output_padding))


def transposed_crop(size, kernel_size, stride, dilation, padding, output_padding):
    """`(start, end_crop)`: the output is the full output without its first `start` and last `end_crop`
    entries (zero-extended by `-end_crop` where that is negative).

    Both numbers are independent of the input size (the output size is affine in it with slope `stride`),
    which lets a graph traced with unknown sizes crop at run time; with a known size they are checked.
    """

    def crop(n):
        output = arithmetic.conv_transpose_output_size(
            n, kernel_size, stride, padding, output_padding, dilation
        )
        full = (n - 1) * stride + arithmetic.effective_kernel_size(kernel_size, dilation)
        start, stop = arithmetic.conv_transpose_crop(n, output, kernel_size, stride, padding, dilation)
        return start, full - stop

    reference = crop(size if size is not None else 16)
    if size is None and crop(17) != reference:
        raise invalid_argument(
            "inputs",
            "a tensor of unknown spatial size",
            f"a known size for padding={padding!r} (its crop depends on the size)",
        )
    return reference
