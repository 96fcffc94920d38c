"""Complex transposed convolution on real kernels, with the semantics of `ops.conv_transpose`.

`(a + ib) *^T (c + id)` is `re = a *^T c - b *^T d`, `im = a *^T d + b *^T c` (no conjugate: the adjoint
of `complex_conv` w.r.t. the bilinear pairing `sum(x * y)`, as `conv_transpose` is for `conv`). The
methods are those of `complex_conv`: `"naive"` (4 real transposed convolutions), `"gauss"` (3, less
precise on the imaginary part when the parts differ in scale) and `"block"` (one, with doubled channels:
input `[a, b]`, kernel `[[c, -d], [d, c]]` in the `(filters, in_channels)` layout of `conv_transpose`);
`"auto"` is `"block"`.
"""

import keras
from keras import ops

from structconv._backend import get_backend
from structconv.errors import invalid_argument
from structconv.ops.arguments import conv_arguments
from structconv.ops.complex_conv import METHODS, doubled_pair, join_complex, one_float_dtype, split_complex
from structconv.ops.conv import input_rank
from structconv.ops.conv_transpose import (
    checked_shapes,
    conv_transpose,
    full_then_cropped,
    prepare_conv_transpose,
)
from structconv.ops.tracing import unless_symbolic


def complex_conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, dilation_rate=1,
                           data_format=None, *, algorithm="auto", method="auto"):
    """Complex N-dimensional transposed convolution, with the semantics of `ops.conv_transpose`.

    Args:
        inputs: a complex tensor or a `(real, imag)` pair, laid out as for `ops.conv_transpose`; the output
            takes the same form.
        kernel: a complex tensor or a pair, `(*kernel_size, filters, in_channels)`.
        strides, padding, output_padding, dilation_rate, data_format, algorithm: as `ops.conv_transpose`.
        method: `"naive"`, `"gauss"`, `"block"` or `"auto"`, as `ops.complex_conv`.

    Example:

    >>> import numpy as np
    >>> x = (np.random.rand(1, 4, 4, 2).astype("float32"), np.random.rand(1, 4, 4, 2).astype("float32"))
    >>> k = (np.random.rand(3, 3, 5, 2).astype("float32"), np.random.rand(3, 3, 5, 2).astype("float32"))
    >>> real, imag = complex_conv_transpose(x, k, strides=2, padding="same")
    >>> tuple(real.shape)
    (1, 8, 8, 5)
    """
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise invalid_argument("method", method, " or ".join(repr(m) for m in METHODS))
    method = "block" if method.lower() == "auto" else method.lower()
    a, b, as_pair = split_complex(inputs, "inputs")
    c, d, _ = split_complex(kernel, "kernel")

    def real_transpose(x, k):
        return conv_transpose(x, k, strides, padding, output_padding, dilation_rate, data_format,
                              algorithm=algorithm)

    if method == "naive":
        real = ops.subtract(real_transpose(a, c), real_transpose(b, d))
        imag = ops.add(real_transpose(a, d), real_transpose(b, c))
    elif method == "gauss":
        ac, bd = real_transpose(a, c), real_transpose(b, d)
        real = ops.subtract(ac, bd)
        imag = ops.subtract(ops.subtract(real_transpose(ops.add(a, b), ops.add(c, d)), ac), bd)
    else:
        a, b, c, d = one_float_dtype(a, b, c, d)
        args = conv_arguments(input_rank(a), strides, padding, dilation_rate, data_format=data_format,
                              output_padding=output_padding,
                              default_data_format=keras.config.image_data_format(), algorithm=algorithm)
        # The checks of `ops.conv_transpose`, on the complex operands, before they are doubled.
        unless_symbolic(checked_shapes, a.shape, c.shape)(tuple(a.shape), tuple(c.shape), args)
        channel_axis = -1 if args.data_format == "channels_last" else 1
        # As `complex_conv`'s block method: planned from the doubled pair's shapes, which one staged
        # program builds, convolves, crops and splits.
        shapes, gradient = doubled_pair(a, b, c, d, channel_axis)
        problem, plan = prepare_conv_transpose(a, c, args, gradient, shapes=shapes)
        real, imag = get_backend().staged(_block_transpose, (plan, problem, args, channel_axis), a, b, c, d)
    return join_complex(real, imag, as_pair)


def _block_transpose(plan, problem, args, channel_axis, a, b, c, d):
    """`(real, imag)` of the block transposed convolution by `plan` (`problem` the doubled pair's)."""
    block = ops.concatenate([ops.concatenate([c, -d], axis=-1), ops.concatenate([d, c], axis=-1)],
                            axis=-2)  # (*kernel_size, [re, im] x filters, [a, b] x in_channels)
    y = full_then_cropped(plan, problem, args, ops.concatenate([a, b], axis=channel_axis), block)
    return ops.split(y, 2, axis=channel_axis)
