"""Plain NumPy references for pooling, upsampling, padding and cropping, written independently of structconv.

Everything works in float64 on channels_last arrays `(batch, *spatial, channels)`; `channels_first` inputs
go through `reference.to_channels_last`. Pooling loops over every output window and takes the max or the
mean of the real inputs it covers; linear upsampling evaluates the half-pixel formula entry by entry.
"""

import itertools

import numpy as np
import reference


def _to_last(x, data_format):
    x = np.asarray(x, np.float64)
    return reference.to_channels_last(x) if data_format == "channels_first" else x


def _back(y, data_format):
    return reference.to_channels_first(y) if data_format == "channels_first" else y


def pool_reference(x, pool_size, strides=None, padding="valid", mode="max", data_format="channels_last"):
    """Max or average ("average" counts only real inputs) over every window, by a loop over outputs."""
    x = _to_last(x, data_format)
    rank = x.ndim - 2
    pool_size = reference.expand(pool_size, rank)
    strides = pool_size if strides is None else reference.expand(strides, rank)
    sizes, starts = [], []
    for n, k, s in zip(x.shape[1:-1], pool_size, strides):
        if padding == "valid":
            sizes.append((n - k) // s + 1)
            starts.append(0)
        else:
            sizes.append(-(-n // s))
            starts.append(-reference.same_pads(n, k, s)[0])
    reduce = np.max if mode == "max" else np.mean
    y = np.zeros((x.shape[0], *sizes, x.shape[-1]))
    for index in itertools.product(*(range(o) for o in sizes)):
        window = tuple(
            slice(max(start + i * s, 0), min(start + i * s + k, n))
            for i, start, s, k, n in zip(index, starts, strides, pool_size, x.shape[1:-1])
        )
        y[(slice(None), *index)] = reduce(x[(slice(None), *window)], axis=tuple(range(1, rank + 1)))
    return _back(y, data_format)


def global_pool_reference(x, mode="max", data_format="channels_last", keepdims=False):
    x = _to_last(x, data_format)
    axes = tuple(range(1, x.ndim - 1))
    y = (np.max if mode == "max" else np.mean)(x, axis=axes, keepdims=keepdims)
    return _back(y, data_format) if keepdims else y


def upsample_reference(x, size, interpolation="nearest", data_format="channels_last"):
    """Nearest: `y[j] = x[j // s]`; linear: `x` at `c = (j + 0.5) / s - 0.5`, `c` clamped to `[0, n - 1]`,
    interpolated between `floor(c)` and the next entry; one axis after another."""
    x = _to_last(x, data_format)
    rank = x.ndim - 2
    for axis, s in zip(range(1, rank + 1), reference.expand(size, rank)):
        n = x.shape[axis]
        positions = np.arange(n * s)
        if interpolation == "nearest":
            x = np.take(x, positions // s, axis=axis)
            continue
        parts = []
        for j in positions:
            c = min(max((j + 0.5) / s - 0.5, 0.0), n - 1.0)
            low = int(np.floor(c))
            high = min(low + 1, n - 1)
            w = c - low
            parts.append((1 - w) * np.take(x, [low], axis=axis) + w * np.take(x, [high], axis=axis))
        x = np.concatenate(parts, axis=axis)
    return _back(x, data_format)


def pad_reference(x, pairs, data_format="channels_last"):
    x = _to_last(x, data_format)
    return _back(np.pad(x, [(0, 0), *pairs, (0, 0)]), data_format)


def crop_reference(x, pairs, data_format="channels_last"):
    x = _to_last(x, data_format)
    index = tuple(slice(b, n - a) for (b, a), n in zip(pairs, x.shape[1:-1]))
    return _back(x[(slice(None), *index)], data_format)
