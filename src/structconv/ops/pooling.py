"""Max and average pooling of any rank, on the backend's own 1-3-D pooling.

Box pooling separates over groups of axes: a max (or a mean) over a box window is the max (mean) over one
group of axes of the max (mean) over the others, strides included. So a rank-`n` pooling runs as native
pools of at most three axes each (the backend tier's `pool`), and every pass is a *reshape*, never a
transpose: the axes before the group fold into the batch and the axes after it into the channels. The
trailing group runs first, so the later passes see an input already reduced by the first (on PyTorch, max
pooling of a channels_first input runs the leading group first: `separable_pool`).

Max pooling's gradient goes to one element per window, because each pass is the backend's own pooling,
which routes it to one element (on TensorFlow only its 2-D pooling does: see `NATIVE_MAX_POOL_RANK`).

Average pooling with `"same"` padding counts only real inputs (Keras's rule): the input is zero-padded,
pooled over whole windows, and rescaled by `window / count`, counts being per-axis products known from the
static shape (`shapes.arithmetic.same_pool_window_counts`). This holds on every backend; Keras's own torch
backend instead pads asymmetric windows by replicating edges.
"""

import math

import keras
import numpy as np
from keras import ops

from structconv._backend import get_backend
from structconv.ops.conv import input_rank
from structconv.ops.padding import pad_spatial, slice_axis
from structconv.ops.tracing import exporting
from structconv.shapes import arithmetic

# Keras's `max_pool` and `average_pool` run natively up to three spatial axes on every backend. Two
# exceptions take two axes at a time: float64 (TensorFlow's MaxPool3D and AvgPool3D have no float64 CPU
# kernel; on every backend, so that results never depend on it), and max pooling on TensorFlow, whose
# MaxPool3D gradient goes to every element tied with the max, where its 2-D MaxPool routes it to one.
NATIVE_POOL_RANK = 3
NATIVE_FLOAT64_POOL_RANK = 2
NATIVE_MAX_POOL_RANK = {"tensorflow": 2}


def pool_arguments(rank, pool_size, strides, padding, data_format):
    """Normalised `(pool_size, strides, padding, data_format)` for `rank` spatial axes."""
    pool_size = arithmetic.normalize_tuple(pool_size, rank, "pool_size")
    strides = pool_size if strides is None else arithmetic.normalize_tuple(strides, rank, "strides")
    return (
        pool_size,
        strides,
        arithmetic.normalize_pool_padding(padding),
        arithmetic.normalize_data_format(data_format, keras.config.image_data_format()),
    )


def spatial_axes(rank, data_format):
    first = 1 if data_format == "channels_last" else 2
    return tuple(range(first, first + rank))


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Max pooling over every spatial axis of an input of any rank >= 1.

    The same arguments and results as `keras.ops.max_pool`, which stops at three spatial axes.

    Args:
        inputs: tensor `(batch, *spatial, channels)` (channels_last) or `(batch, channels, *spatial)`.
        pool_size: int or tuple of `rank` ints, the window.
        strides: int, tuple of `rank` ints, or `None` for `pool_size`.
        padding: `"valid"` (whole windows only) or `"same"` (`ceil(n / stride)` outputs; padding never wins).
        data_format: `"channels_last"`, `"channels_first"` or `None` for `keras.config.image_data_format()`.

    Returns:
        Tensor with the output sizes of `structconv.shapes.arithmetic.pool_output_shape`.

    Example:

    >>> import numpy as np
    >>> x = np.arange(16, dtype="float32").reshape(1, 2, 2, 2, 2, 1)  # rank 4
    >>> y = max_pool(x, 2)
    >>> tuple(y.shape), float(y[0, 0, 0, 0, 0, 0])
    ((1, 1, 1, 1, 1, 1), 15.0)
    """
    return _pool(inputs, pool_size, strides, padding, data_format, "max")


def avg_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Average pooling over every spatial axis of an input of any rank >= 1.

    Arguments as `max_pool`. With `"same"` padding each window averages only its real inputs, as Keras.

    Example:

    >>> import numpy as np
    >>> x = np.ones((1, 3, 3, 3, 3, 1), "float32")
    >>> y = avg_pool(x, 2, padding="same")  # the last windows hold one real input per axis
    >>> tuple(y.shape), float(y[0, 1, 1, 1, 1, 0])
    ((1, 2, 2, 2, 2, 1), 1.0)
    """
    return _pool(inputs, pool_size, strides, padding, data_format, "average")


# Keras's name for it.
average_pool = avg_pool


def global_max_pool(inputs, data_format=None, keepdims=False):
    """The max over all spatial axes: `(batch, channels)`, or with `keepdims` size 1 on each spatial axis.

    >>> import numpy as np
    >>> tuple(global_max_pool(np.zeros((2, 3, 3, 3, 3, 5), "float32")).shape)
    (2, 5)
    """
    inputs = ops.convert_to_tensor(inputs)
    data_format = arithmetic.normalize_data_format(data_format, keras.config.image_data_format())
    return ops.max(inputs, axis=spatial_axes(input_rank(inputs), data_format), keepdims=keepdims)


def global_avg_pool(inputs, data_format=None, keepdims=False):
    """The mean over all spatial axes: `(batch, channels)`, or with `keepdims` size 1 on each spatial axis.

    >>> import numpy as np
    >>> tuple(global_avg_pool(np.zeros((2, 5, 3, 3, 3, 3), "float32"), "channels_first", True).shape)
    (2, 5, 1, 1, 1, 1)
    """
    inputs = ops.convert_to_tensor(inputs)
    data_format = arithmetic.normalize_data_format(data_format, keras.config.image_data_format())
    axes = spatial_axes(input_rank(inputs), data_format)
    # A sum and a division rather than `keras.ops.mean`, which on torch computes float64 in float32.
    count = math.prod(inputs.shape[a] for a in axes)
    return ops.sum(inputs, axis=axes, keepdims=keepdims) / count


def _pool(inputs, pool_size, strides, padding, data_format, mode):
    inputs = ops.convert_to_tensor(inputs)
    rank = input_rank(inputs)
    pool_size, strides, padding, data_format = pool_arguments(rank, pool_size, strides, padding, data_format)
    axes = spatial_axes(rank, data_format)
    spatial = tuple(inputs.shape[a] for a in axes)
    arithmetic.pool_output_shape(spatial, pool_size, strides, padding)  # rejects windows past the input
    if mode == "average" and padding == "same":
        return _same_average(inputs, pool_size, strides, spatial, axes, data_format)
    return separable_pool(inputs, pool_size, strides, padding, data_format, mode)


def _same_average(inputs, pool_size, strides, spatial, axes, data_format):
    pads = [arithmetic.resolve_axis_padding("same", n, k, s) for n, k, s in zip(spatial, pool_size, strides)]
    padded = pad_spatial(inputs, pads, "zeros", data_format)
    pooled = separable_pool(padded, pool_size, strides, "valid", data_format, "average")
    # window / count as an outer product of per-axis factors, shaped to broadcast over batch and channels.
    scale = np.ones((1,) * len(inputs.shape))
    for axis, n, k, s in zip(axes, spatial, pool_size, strides):
        counts = np.asarray(arithmetic.same_pool_window_counts(n, k, s), np.float64)
        shape = [1] * len(inputs.shape)
        shape[axis] = len(counts)
        scale = scale * (k / counts).reshape(shape)
    if np.all(scale == 1.0):
        return pooled
    return pooled * ops.convert_to_tensor(scale, dtype=pooled.dtype)


def separable_pool(inputs, pool_size, strides, padding, data_format, mode):
    """Pools over groups of at most `NATIVE_POOL_RANK` axes (arguments already normalised), each pass the
    backend tier's `pool` of the input reshaped to `(N, *group, T)`: the axes before the group fold into
    `N`, those after it into `T`. Groups run last first, so that later passes see reduced inputs, except
    max pooling of a channels_first input on backends whose max pooling is fastest with many channels
    (`POOL_MAX_OVER_LEADING_AXES`, PyTorch): there the leading group runs first, the trailing spatial axes
    riding along as its channels. One compiled program per arguments where the backend stages eager calls
    (`staged`: JAX), the export decision among its static arguments."""
    export = exporting(tuple(inputs.shape))
    static = (pool_size, strides, padding, data_format, mode, export)
    return get_backend().staged(_separable_pool, static, inputs)


def _separable_pool(pool_size, strides, padding, data_format, mode, export, inputs):
    rank = len(pool_size)
    backend = get_backend()
    group_rank = NATIVE_POOL_RANK
    if mode == "max":
        group_rank = NATIVE_MAX_POOL_RANK.get(keras.backend.backend(), NATIVE_POOL_RANK)
    if keras.backend.standardize_dtype(inputs.dtype) == "float64":
        group_rank = min(group_rank, NATIVE_FLOAT64_POOL_RANK)
    if export:
        return _pool_by_slices(inputs, pool_size, strides, padding, data_format, mode)
    if rank <= group_rank and data_format == "channels_last":
        return backend.pool(inputs, pool_size, strides, padding, mode)
    groups = [(max(stop - group_rank, 0), stop) for stop in range(rank, 0, -group_rank)]
    if mode == "max" and data_format == "channels_first" and backend.POOL_MAX_OVER_LEADING_AXES:
        groups = [(start, min(start + group_rank, rank)) for start in range(0, rank, group_rank)]
    first = 1 if data_format == "channels_last" else 2
    x = inputs
    for start, stop in groups:
        window, step = pool_size[start:stop], strides[start:stop]
        if all(k == 1 for k in window) and all(s == 1 for s in step):
            continue  # an identity pass
        shape = list(x.shape)
        lo, hi = first + start, first + stop
        head, group, tail = shape[1:lo], shape[lo:hi], shape[hi:]
        y = backend.pool(ops.reshape(x, (-1, *group, math.prod(tail))), window, step, padding, mode)
        x = ops.reshape(y, (-1, *head, *y.shape[1:-1], *tail))
    return x


def _pool_by_slices(inputs, pool_size, strides, padding, data_format, mode):
    """The same pooling as the max / mean of `window` strided slices per axis: what an exported graph holds.
    jax2onnx turns `reduce_window` into an ONNX MaxPool whose window spans the batch and channel axes, which
    onnxruntime rejects ("Unsupported pooling size"), for Keras's own MaxPooling3D too."""
    x = inputs
    for axis, k, s in zip(spatial_axes(len(pool_size), data_format), pool_size, strides):
        n = x.shape[axis]
        if padding == "same":  # max pooling only (average "same" is padded and rescaled by the caller)
            before, after = arithmetic.resolve_axis_padding("same", n, k, s)
            pads = [(0, 0)] * len(x.shape)
            pads[axis] = (before, after)
            x = ops.pad(x, pads, constant_values=float("-inf"))
            n += before + after
        count = (n - k) // s + 1
        parts = [slice_axis(x, axis, j, j + (count - 1) * s + 1, s) for j in range(k)]
        x = parts[0]
        for part in parts[1:]:
            # `where`, not `keras.ops.maximum`, which returns float32 for float64 tensors on torch.
            x = ops.where(part > x, part, x) if mode == "max" else x + part
        if mode == "average":
            x = x / k
    return x
