"""TensorFlow's convolutions for the backend tier (`structconv._backend.tensorflow` exports `conv`,
`conv_transpose`, `channels_first_copy`, and `im2col_helps` and `conv_im2col`, never planned on
TensorFlow, from here).

Two TensorFlow limits are handled here and nowhere else: `tf.nn.convolution` rejects `strides > 1` together
with `dilation_rate > 1`, and the CPU kernel of `tf.nn.conv_transpose` rejects dilation in float64. Both are
met the same way: the dilation is written into the kernel (zeros between taps), which is exact and costs
`(extent / kernel_size) ** rank` more multiply-adds, on the kernel side only. Where TensorFlow's CPU kernels
cannot run or differentiate a grouped convolution (without oneDNN), it is built from ungrouped ones.
"""

import functools

import tensorflow as tf

from structconv._backend import in_one_window_form
from structconv.shapes.arithmetic import one_input_strides, resolve_axis_padding

# Named explicitly: without it, eager gradients of a rank-3 convolution fail in TensorFlow 2.21
# (`_Conv3DGrad` reads a data_format of None).
_DATA_FORMAT = {1: "NWC", 2: "NHWC", 3: "NDHWC"}


def _to_channels_last(x, rank):
    return tf.transpose(x, [0, *range(2, rank + 2), 1])


def _to_channels_first(x, rank):
    return tf.transpose(x, [0, rank + 1, *range(1, rank + 1)])


def _dilate_kernel(kernel, dilation_rate):
    """Inserts `d - 1` zeros between the taps of each spatial axis of `kernel`."""
    for axis, dilation in enumerate(dilation_rate):
        if dilation == 1:
            continue
        size = kernel.shape[axis]
        spread = tf.stack([kernel] + [tf.zeros_like(kernel)] * (dilation - 1), axis=axis + 1)
        new_shape = list(kernel.shape)
        new_shape[axis] = size * dilation
        kernel = tf.reshape(spread, new_shape)
        kernel = tf.gather(kernel, tf.range((size - 1) * dilation + 1), axis=axis)
    return kernel


def _same_pair_at_run_time(size, kernel_size, stride, dilation):
    """The "same" `(before, after)` pair for an axis whose size is only known at run time."""
    extent = (kernel_size - 1) * dilation + 1
    outputs = (size + stride - 1) // stride
    total = tf.maximum((outputs - 1) * stride + extent - size, 0)
    return tf.stack([total // 2, total - total // 2])


def _padding_argument(x, kernel_size, strides, padding, dilation_rate):
    """Chooses TensorFlow's padding string, padding `x` explicitly where neither string fits.

    A `None` pair is "same" padding on an axis of unknown size, computed at run time.
    """
    if any(pair is None for pair in padding):
        pairs = [
            _same_pair_at_run_time(tf.shape(x)[axis + 1], k, s, d) if pair is None else tf.constant(pair)
            for axis, (pair, k, s, d) in enumerate(zip(padding, kernel_size, strides, dilation_rate))
        ]
        zero = tf.zeros((2,), tf.int32)
        return tf.pad(x, tf.stack([zero, *[tf.cast(p, tf.int32) for p in pairs], zero])), "VALID"
    if all(pair == (0, 0) for pair in padding):
        return x, "VALID"
    sizes = x.shape[1:-1]
    # TensorFlow's CPU convolution without oneDNN (always in float64) computes wrong values with "SAME" where
    # a stride overshoots the input, so that the axis's "same" padding would be negative (seen: Conv3D,
    # input 10x18x15, kernel 5x1x1, strides 2x3x3); explicit padding then "VALID" is exact.
    if x.dtype != tf.float64 and all(
        n is not None
        and tuple(pair) == resolve_axis_padding("same", n, k, s, d)
        and (-(-n // s) - 1) * s + (k - 1) * d + 1 >= n
        for n, k, s, d, pair in zip(sizes, kernel_size, strides, dilation_rate, padding)
    ):
        return x, "SAME"
    return tf.pad(x, [[0, 0], *[list(pair) for pair in padding], [0, 0]]), "VALID"


# Above this many input channels per group, one convolution per group is faster than one convolution with a
# block-diagonal kernel, which multiplies `groups` times more terms (benchmarks/grouped_conv_tf.py, AMD EPYC,
# TensorFlow 2.21 without oneDNN: 4 channels per group 1.6-3x faster block-diagonal, 16 channels per group
# 1.6x faster split; docs/benchmarks.md).
_BLOCK_DIAGONAL_MAX_GROUP_CHANNELS = 8


@functools.cache
def _native_grouped_conv(rank, dtype):
    """Whether TensorFlow runs and differentiates a grouped convolution of this rank and dtype here.

    Its CPU kernels differentiate one only with oneDNN (on by default on some CPUs only, and off with
    `TF_ENABLE_ONEDNN_OPTS=0`) and only in float32 and bfloat16; Conv3D has no grouped kernel at all. Which
    holds is asked of TensorFlow once, on a tiny convolution, rather than guessed from the CPU.
    """
    # Convolution and its two gradient kernels, called directly: `tf.init_scope` (eager even while a
    # `tf.function` is traced) pauses gradient tapes. TensorFlow's 1-D convolution is its 2-D one.
    probe_rank = max(rank, 2)
    names = {2: ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"),
             3: ("Conv3D", "Conv3DBackpropInputV2", "Conv3DBackpropFilterV2")}[probe_rank]
    # Not a 1x1 kernel: TensorFlow runs those as a matrix product.
    x_shape, kernel_shape = (1,) + (3,) * probe_rank + (2,), (2,) * probe_rank + (1, 2)
    strides = [1] * (probe_rank + 2)
    with tf.init_scope():
        x, kernel = tf.ones(x_shape, dtype), tf.ones(kernel_shape, dtype)
        try:
            y = getattr(tf.raw_ops, names[0])(input=x, filter=kernel, strides=strides, padding="VALID")
            getattr(tf.raw_ops, names[1])(
                input_sizes=x_shape, filter=kernel, out_backprop=y, strides=strides, padding="VALID"
            )
            getattr(tf.raw_ops, names[2])(
                input=x, filter_sizes=kernel_shape, out_backprop=y, strides=strides, padding="VALID"
            )
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError, tf.errors.NotFoundError):
            return False
    return True


def _grouped_conv(x, kernel, strides, padding_name, dilation_rate, groups):
    """A grouped convolution from ungrouped ones, where TensorFlow's own grouped kernel is missing."""
    rank = len(x.shape) - 2

    def convolution(inputs, filters):
        return tf.nn.convolution(
            inputs, filters, strides, padding_name, data_format=_DATA_FORMAT[rank], dilations=dilation_rate
        )

    group_channels, filters = kernel.shape[-2], kernel.shape[-1]
    if group_channels > _BLOCK_DIAGONAL_MAX_GROUP_CHANNELS:
        pairs = zip(tf.split(x, groups, axis=-1), tf.split(kernel, groups, axis=-1))
        return tf.concat([convolution(a, b) for a, b in pairs], axis=-1)
    # One convolution whose kernel connects input group g to output group g only.
    blocks = tf.reshape(kernel, (*kernel.shape[:rank], 1, group_channels, groups, filters // groups))
    diagonal = tf.reshape(tf.eye(groups, dtype=kernel.dtype), (groups, 1, groups, 1))
    full_shape = (*kernel.shape[:rank], groups * group_channels, filters)
    return convolution(x, tf.reshape(blocks * diagonal, full_shape))


def _narrow(x, axis, length):
    """`x` cut to its first `length` entries along `axis` (`tf.slice`, whose gradient is a pad)."""
    size = [-1] * len(x.shape)
    size[axis] = length
    return tf.slice(x, [0] * len(x.shape), size)


def conv(x, kernel, strides, padding, dilation_rate, groups, data_format):
    rank = len(x.shape) - 2
    if data_format == "channels_first":
        # TensorFlow's CPU kernels only run channels_last.
        x = _to_channels_last(x, rank)
    x, strides, padding = in_one_window_form(x, 1, kernel, strides, padding, dilation_rate, _narrow)
    if any(s > 1 for s in strides) and any(d > 1 for d in dilation_rate):
        kernel = _dilate_kernel(kernel, dilation_rate)
        dilation_rate = (1,) * rank
    kernel_size = kernel.shape[:rank]
    x, padding_name = _padding_argument(x, kernel_size, strides, padding, dilation_rate)
    if groups > 1 and not _native_grouped_conv(rank, x.dtype):
        y = _grouped_conv(x, kernel, list(strides), padding_name, list(dilation_rate), groups)
    else:
        y = tf.nn.convolution(
            x, kernel, list(strides), padding_name,
            data_format=_DATA_FORMAT[rank], dilations=list(dilation_rate),
        )
    if data_format == "channels_first":
        y = _to_channels_first(y, rank)
    return y


def channels_first_copy(x):
    """`(N, *spatial, C)` as `(N, C, *spatial)` (see the PyTorch module)."""
    return _to_channels_first(x, len(x.shape) - 2)


def im2col_helps(rank, data_format, channels, filters, groups, dtype, device, columns):
    """Whether the framework's convolution bypassing its kernel library is a candidate (see the PyTorch
    module): never."""
    return False


def conv_im2col(x, kernel, strides, padding, dilation_rate, data_format):
    """Never planned here (`im2col_helps`; see the PyTorch module)."""
    raise NotImplementedError("conv_im2col is a PyTorch candidate only")


def conv_transpose(x, kernel, strides, dilation_rate, data_format):
    rank = len(x.shape) - 2
    if data_format == "channels_first":
        x = _to_channels_last(x, rank)
    strides = one_input_strides(tuple(x.shape[1:-1]), strides)  # see the PyTorch module's
    if any(d > 1 for d in dilation_rate):
        kernel = _dilate_kernel(kernel, dilation_rate)
    extents = kernel.shape[:rank]
    # The full output's sizes, taken at run time on axes whose size is unknown when traced.
    input_sizes = [n if n is not None else tf.shape(x)[axis + 1] for axis, n in enumerate(x.shape[1:-1])]
    sizes = [(n - 1) * s + e for n, s, e in zip(input_sizes, strides, extents)]
    output_shape = tf.stack([tf.shape(x)[0], *sizes, kernel.shape[-2]])
    y = tf.nn.conv_transpose(x, kernel, output_shape, list(strides), "VALID")
    if data_format == "channels_first":
        y = _to_channels_first(y, rank)
    return y
