"""Builds the `ConvProblem` of a call from its tensors and checked arguments (the one place that reads a
tensor's shape, dtype and device for planning)."""

import functools

import keras

from structconv._backend import get_backend
from structconv.ops.arguments import split_shape
from structconv.ops.problem import ConvProblem, is_static
from structconv.ops.tracing import exporting_to_onnx, has_symbolic_size, unless_symbolic


def expects_gradient(inputs, kernel, training=None):
    """Whether the gradient of a convolution of `inputs` and `kernel` will be taken: `training` when given
    (a Keras layer knows it), else what the backend can tell (eager torch: autograd is recording and a
    tensor requires a gradient; JAX: a tensor is traced by `jax.grad` or its kin; TensorFlow: no)."""
    if training is not None:
        return bool(training)
    return bool(get_backend().is_differentiating(inputs, kernel))


def _size(n):
    return n if is_static(n) else None


def conv_problem(inputs, kernel, shapes, args, padding, training=None, transposed=False):
    """The problem of `conv` (or of the full `conv_transpose`, `transposed`) of operands of `shapes`,
    `(input_shape, kernel_shape)`, with checked `args` and resolved `padding` (ignored when `transposed`);
    `inputs` and `kernel`, float tensors of one dtype, give the dtype, device and gradient flag (the
    operands themselves, or the parts they are made of inside the program: `complex_conv`'s block pair).
    Symbolic sizes become None and mark the problem `symbolic` (it then runs direct: an exported graph),
    and so does an ONNX export traced with an unknown batch size."""
    backend = get_backend()
    input_shape, kernel_shape = shapes
    symbolic = has_symbolic_size(input_shape)
    return unless_symbolic(_problem, input_shape, kernel_shape)(
        keras.backend.backend(),
        backend.device_of(inputs, kernel),
        input_shape,
        kernel_shape,
        inputs.dtype,
        args,
        padding,
        transposed,
        expects_gradient(inputs, kernel, training),
        bool(backend.traced_for_xla()),
        symbolic or (input_shape[0] is None and exporting_to_onnx()),
    )


@functools.lru_cache(maxsize=1024)
def _problem(backend, device, input_shape, kernel_shape, dtype, args, padding, transposed, training, xla,
             symbolic):
    """The `ConvProblem` of `conv_problem`, cached per key (an eager loop builds the same one per call)."""
    spatial, channels = split_shape(input_shape, args.data_format)
    rank = args.rank
    if transposed:
        padding, filters, groups = ((0, 0),) * rank, kernel_shape[-2], 1
    else:
        filters, groups = kernel_shape[-1], args.groups
    return ConvProblem(
        backend=backend,
        device=device,
        rank=rank,
        batch=_size(input_shape[0]),
        spatial=tuple(_size(n) for n in spatial),
        channels=int(channels),
        filters=int(filters),
        kernel_size=tuple(int(k) for k in kernel_shape[:rank]),
        groups=groups,
        strides=tuple(args.strides),
        dilation_rate=tuple(args.dilation_rate),
        padding=tuple(None if pair is None else tuple(pair) for pair in padding),
        padding_mode=args.padding_mode,
        dtype=keras.backend.standardize_dtype(dtype),
        data_format=args.data_format,
        transposed=transposed,
        training=training,
        xla=xla,
        symbolic=symbolic,
    )
