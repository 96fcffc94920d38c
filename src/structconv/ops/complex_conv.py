"""Complex-valued convolution on real backends' kernels, and intensity detection.

A complex convolution `(a + ib) * (c + id)` is `re = a*c - b*d`, `im = a*d + b*c`. Three ways to compute it
with real convolutions, each with the semantics of `ops.conv` (any rank, every padding, both algorithms):

- `"naive"`: 4 real convolutions. Each output part is an exact sum of products, so each part keeps the
  dtype's rounding error relative to its own magnitude.
- `"gauss"`: 3 real convolutions (`a*c`, `b*d`, `(a + b) * (c + d)`; `im` is the third minus the first
  two), 25% fewer multiply-adds, but `im` comes out of a difference of large terms: when the parts differ
  in scale it loses precision. In float32 with `im` 1e-4 of `re`, its relative error is 1e-3 to 1e-2
  (5.8e-3 in `benchmarks/complex.py`), as for the native complex convolutions of PyTorch and JAX, which
  use the same trick. `re` stays exact.
- `"block"`: one real convolution with doubled channels, input `[a, b]` and kernel `[[c, d], [-d, c]]`:
  the same multiply-adds as "naive" in one call, and the same precision (below 1e-6 relative error per
  part in float32, whatever the scale of the parts).
- `"auto"` (default): `"block"`, the fastest of the three in most measured cases (see docs/complex.md),
  which keeps float32 relative error within 1e-5 of each part's own magnitude.

Complex tensors keep their precision: complex64 gives complex64, complex128 gives complex128 (float64
arithmetic), as float32 and float64 pairs do.
"""

import keras
from keras import ops

from structconv._backend import get_backend
from structconv.errors import invalid_argument
from structconv.ops.arguments import conv_arguments
from structconv.ops.conv import (
    as_float_tensors,
    checked_padding,
    conv_with_arguments,
    input_rank,
    prepare_conv,
    promote_float_dtypes,
)
from structconv.ops.execute import execute
from structconv.ops.gather import gather
from structconv.ops.make_problem import expects_gradient
from structconv.ops.tracing import unless_symbolic

METHODS = ("auto", "naive", "gauss", "block")


def split_complex(value, name):
    """`(real, imag, was_pair)` from a complex tensor or a `(real, imag)` pair of equal shapes."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise invalid_argument(name, f"a sequence of {len(value)} tensors", "a (real, imag) pair")
        real, imag = ops.convert_to_tensor(value[0]), ops.convert_to_tensor(value[1])
        if tuple(real.shape) != tuple(imag.shape):
            raise invalid_argument(
                name,
                f"a pair of shapes {tuple(real.shape)} and {tuple(imag.shape)}",
                "real and imaginary parts of the same shape",
            )
        return real, imag, True
    requested = _dtype_name(value) if hasattr(value, "dtype") else None
    value = ops.convert_to_tensor(value)
    if "complex" not in str(value.dtype):
        raise TypeError(
            f"Invalid `{name}`: received a tensor of dtype {value.dtype}. Expected a complex tensor or a "
            "(real, imag) pair of real tensors."
        )
    if requested == "complex128" and _dtype_name(value) != "complex128":
        # JAX without 64-bit mode narrows complex128 to complex64 (with only a warning).
        raise TypeError(
            f"Invalid `{name}`: received a complex128 array, which the {keras.backend.backend()} backend "
            f"holds only as {_dtype_name(value)} here. Expected complex64, or complex128 with 64-bit mode on "
            "(JAX: set JAX_ENABLE_X64=1), or a (real, imag) pair of real tensors."
        )
    return ops.real(value), ops.imag(value), False


def _dtype_name(value):
    return keras.backend.standardize_dtype(value.dtype)


def join_complex(real, imag, as_pair):
    """The pair itself, or one complex tensor of the matching precision (complex128 from float64)."""
    if as_pair:
        return real, imag
    # Not keras.ops.view_as_complex, which always returns complex64.
    dtype = "complex128" if _dtype_name(real) == "float64" else "complex64"
    return ops.cast(real, dtype) + 1j * ops.cast(imag, dtype)


def cos_sin(phase):
    """`(cos(phase), sin(phase))` in the dtype of `phase`.

    `keras.ops.cos` and `sin` return float32 for float64 input on JAX; there `exp(i * phase)` in complex128
    gives them in float64.
    """
    phase = ops.convert_to_tensor(phase)
    cos, sin = ops.cos(phase), ops.sin(phase)
    if _dtype_name(cos) == _dtype_name(phase):
        return cos, sin
    phasor = ops.exp(ops.cast(phase, "complex128") * 1j)
    return ops.real(phasor), ops.imag(phasor)


def phase_of(real, imag):
    """`arctan2(imag, real)` in the dtype of the parts.

    `keras.ops.arctan2` returns float32 for float64 input on JAX and torch; there the imaginary part of
    `log` in complex128 gives it in float64 (`log` narrows complex128 on TensorFlow, `arctan2` does not).
    """
    phase = ops.arctan2(imag, real)
    if _dtype_name(phase) == _dtype_name(real):
        return phase
    return ops.imag(ops.log(ops.cast(real, "complex128") + 1j * ops.cast(imag, "complex128")))


def _group_order(channels, groups):
    """Positions in `[a_0 .. a_(C-1), b_0 .. b_(C-1)]` of `[a, b]` of group 0, then of group 1, ..."""
    size = channels // groups
    return [part * channels + g * size + i for g in range(groups) for part in (0, 1) for i in range(size)]


def _block_operands(a, b, c, d, groups, channel_axis):
    """Input `[a, b]` and kernel `[[c, d], [-d, c]]`, interleaved per group so `groups` still applies.

    The input is reordered with `gather` along the channel axis, never reshaped, so that batch and spatial
    sizes unknown until run time (a `tf.function` traced for any size) need no special case.
    """
    x = ops.concatenate([a, b], axis=channel_axis)
    if groups == 1:
        # Three concatenations: eager torch spent 104 us a call in the reshapes and stacks of the grouped
        # form below, 22 in these (1-D 64-sample k=3 4 -> 4; `keras.ops.reshape` alone 17 us a call).
        kernel_axis = c.ndim - 2
        return x, ops.concatenate([ops.concatenate([c, d], axis=-1), ops.concatenate([-d, c], axis=-1)],
                                  axis=kernel_axis)
    x = gather(x, _group_order(a.shape[channel_axis], groups), axis=channel_axis)
    *kernel_size, in_per_group, filters = c.shape
    split = (*kernel_size, in_per_group, groups, filters // groups)
    c, d = ops.reshape(c, split), ops.reshape(d, split)
    from_a = ops.stack([c, d], axis=-2)  # (..., in, g, [re, im], f)
    from_b = ops.stack([-d, c], axis=-2)
    kernel = ops.stack([from_a, from_b], axis=len(kernel_size))  # (*k, [a, b], in, g, 2, f)
    kernel = ops.reshape(kernel, (*kernel_size, 2 * in_per_group, 2 * filters))
    return x, kernel


def _block_outputs(y, filters, groups, channel_axis):
    """`(real, imag)` from the block convolution's channels `[re, im]` of group 0, then of group 1, ..."""
    if groups == 1:
        real, imag = ops.split(y, 2, axis=channel_axis)
        return real, imag
    order = _group_order(filters, groups)  # [re, im] per group -> the position of re_j and of im_j
    inverse = sorted(range(2 * filters), key=order.__getitem__)
    return (gather(y, inverse[:filters], axis=channel_axis),
            gather(y, inverse[filters:], axis=channel_axis))


def complex_conv(inputs, kernel, strides=1, padding="valid", dilation_rate=1, groups=1, data_format=None, *,
                 padding_mode="zeros", algorithm="auto", method="auto"):
    """Complex N-dimensional convolution, with the semantics of `ops.conv` (cross-correlation, no conjugate).

    Args:
        inputs: a complex tensor, or a `(real, imag)` pair of real tensors of the same shape, laid out as for
            `ops.conv`. The output takes the same form.
        kernel: a complex tensor or a `(real, imag)` pair of shape
            `(*kernel_size, channels // groups, filters)`.
        strides, padding, dilation_rate, groups, data_format, padding_mode, algorithm: as `ops.conv`.
        method: `"naive"`, `"gauss"`, `"block"` or `"auto"`; see the module docstring for cost and precision.

    Example:

    >>> import numpy as np
    >>> x = (np.random.rand(1, 8, 8, 2).astype("float32"), np.random.rand(1, 8, 8, 2).astype("float32"))
    >>> k = (np.random.rand(3, 3, 2, 4).astype("float32"), np.random.rand(3, 3, 2, 4).astype("float32"))
    >>> real, imag = complex_conv(x, k, padding="same")
    >>> tuple(real.shape), tuple(imag.shape)
    ((1, 8, 8, 4), (1, 8, 8, 4))
    """
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise invalid_argument("method", method, " or ".join(repr(m) for m in METHODS))
    a, b, as_pair = split_complex(inputs, "inputs")
    args = conv_arguments(input_rank(a), strides, padding, dilation_rate, groups, data_format, padding_mode,
                          default_data_format=keras.config.image_data_format(), algorithm=algorithm)
    real, imag = complex_conv_with_arguments((a, b), kernel, args, method)
    return join_complex(real, imag, as_pair)


def complex_conv_with_arguments(inputs, kernel, args, method="auto", training=None):
    """`complex_conv` with checked `args` (as a layer holds them): `(real, imag)` of `(real, imag)` inputs
    and a kernel in any form `complex_conv` takes; each real convolution goes through `conv`'s planner and
    executor, `training` saying whether the gradient will be taken (None: ask the backend)."""
    method = "block" if method.lower() == "auto" else method.lower()
    a, b = inputs
    c, d, _ = split_complex(kernel, "kernel")

    def real_conv(x, k):
        return conv_with_arguments(*as_float_tensors(x, k), args, training)

    if method == "naive":
        return (ops.subtract(real_conv(a, c), real_conv(b, d)),
                ops.add(real_conv(a, d), real_conv(b, c)))
    if method == "gauss":
        ac, bd = real_conv(a, c), real_conv(b, d)
        sum_product = real_conv(ops.add(a, b), ops.add(c, d))
        return ops.subtract(ac, bd), ops.subtract(ops.subtract(sum_product, ac), bd)
    a, b, c, d = one_float_dtype(a, b, c, d)
    # The checks of `ops.conv`, on the complex operands, before they are doubled into one real pair (as
    # `complex_conv_transpose` runs `conv_transpose`'s; cached per shapes).
    unless_symbolic(checked_padding, a.shape, c.shape)(tuple(a.shape), tuple(c.shape), args, get_backend())
    channel_axis = -1 if args.data_format == "channels_last" else 1
    # The plan of the doubled pair, made from the shapes; the pair is built, convolved and split inside
    # one staged program (eager JAX and TensorFlow had run each of those ops apart: a 1-D 64-sample k=3
    # 4 -> 4 call 276 and 581 us against 22 and 134 for its real convolution; docs/benchmarks.md).
    shapes, gradient = doubled_pair(a, b, c, d, channel_axis, training)
    problem, plan = prepare_conv(a, c, args, gradient, shapes=shapes)
    return get_backend().staged(_block_conv, (plan, problem, args.groups, channel_axis), a, b, c, d)


def doubled_pair(a, b, c, d, channel_axis, training=None):
    """`(shapes, gradient)` of the block method's real pair, made from the input's parts `a, b` and the
    kernel's `c, d` without building it: `(input_shape, kernel_shape)` to plan its convolution by (the
    channel axis and the kernel's last two axes doubled), and whether its gradient will be taken."""
    x_shape = list(a.shape)
    x_shape[channel_axis] = 2 * x_shape[channel_axis]
    k_shape = (*c.shape[:-2], 2 * c.shape[-2], 2 * c.shape[-1])
    return (tuple(x_shape), k_shape), expects_gradient(a, c, training) or expects_gradient(b, d, training)


def _block_conv(plan, problem, groups, channel_axis, a, b, c, d):
    """`(real, imag)` of the block convolution by `plan` (`problem` the doubled pair's)."""
    x, k = _block_operands(a, b, c, d, groups, channel_axis)
    return _block_outputs(execute(plan, problem, x, k), c.shape[-1], groups, channel_axis)


def one_float_dtype(a, b, c, d):
    """The four real parts as tensors of one floating dtype (`as_float_tensors`, pairwise, then the wider)."""
    a, c = as_float_tensors(a, c)
    b, d = as_float_tensors(b, d)
    if a.dtype == b.dtype:
        return a, b, c, d
    dtype = promote_float_dtypes(a.dtype, b.dtype)
    return tuple(ops.cast(part, dtype) for part in (a, b, c, d))


def intensity(z):
    """`re^2 + im^2` of a complex tensor or a `(real, imag)` pair: what a detector measures.

    Its gradient is finite everywhere, at 0 too (no square root).

    >>> float(intensity((3.0, 4.0)))
    25.0
    """
    real, imag, _ = split_complex(z, "z")
    return ops.add(ops.square(real), ops.square(imag))
