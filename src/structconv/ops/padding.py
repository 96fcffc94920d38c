"""Padding along spatial axes in four modes, for tensors of any rank, written once in `keras.ops`.

Each axis is padded by concatenation rather than `keras.ops.pad`: TensorFlow's pad fails on 7-D tensors
(rank-5 convolutions) and torch's reflect pad rejects some layouts. Shown on `1 2 3 4` padded by 2 and 2:

- `"zeros"`:     `0 0 | 1 2 3 4 | 0 0`
- `"reflect"`:   `3 2 | 1 2 3 4 | 3 2`
- `"replicate"`: `1 1 | 1 2 3 4 | 4 4`
- `"circular"`:  `3 4 | 1 2 3 4 | 1 2`
"""

from keras import ops

from structconv._backend import get_backend


def slice_axis(x, axis, start, stop, step=1):
    """`x[..., start:stop:step, ...]` on `axis`, for any backend's tensor (by the backend tier's
    `slice_window`, whose gradient is a pad on TensorFlow)."""
    return get_backend().slice_window(x, (slice(None),) * axis + (slice(start, stop, step),))


def pad_axis(x, axis, before, after, mode="zeros"):
    """Pads one axis of `x`; sizes must already be checked against the mode (see `arguments`)."""
    if before == 0 and after == 0:
        return x
    size = x.shape[axis]
    if mode == "zeros":
        zero = ops.zeros_like(slice_axis(x, axis, 0, 1))
        head = ops.repeat(zero, before, axis=axis) if before else None
        tail = ops.repeat(zero, after, axis=axis) if after else None
    elif mode == "replicate":
        head = ops.repeat(slice_axis(x, axis, 0, 1), before, axis=axis) if before else None
        tail = ops.repeat(slice_axis(x, axis, size - 1, size), after, axis=axis) if after else None
    elif mode == "reflect":
        head = ops.flip(slice_axis(x, axis, 1, before + 1), axis=axis) if before else None
        tail = ops.flip(slice_axis(x, axis, size - 1 - after, size - 1), axis=axis) if after else None
    else:  # circular
        head = slice_axis(x, axis, size - before, size) if before else None
        tail = slice_axis(x, axis, 0, after) if after else None
    parts = [part for part in (head, x, tail) if part is not None]
    return ops.concatenate(parts, axis=axis)


def pad_spatial(x, padding, mode, data_format):
    """Pads every spatial axis of `x` by its `(before, after)` pair in `padding`."""
    first = 1 if data_format == "channels_last" else 2
    for offset, (before, after) in enumerate(padding):
        x = pad_axis(x, first + offset, before, after, mode)
    return x


def spread(x, axis, stride):
    """Inserts `stride - 1` zeros between the entries of `axis`: `1 2 3` -> `1 0 2 0 3` for stride 2.

    Used to write strides and dilations into tensors (transposed convolution, dilated kernels).
    """
    if stride == 1:
        return x
    size = x.shape[axis]
    stacked = ops.stack([x] + [ops.zeros_like(x)] * (stride - 1), axis=axis + 1)
    shape = [-1 if i == 0 else v for i, v in enumerate(stacked.shape)]
    merged = ops.reshape(stacked, shape[:axis] + [size * stride] + shape[axis + 2 :])
    return slice_axis(merged, axis, 0, (size - 1) * stride + 1)
