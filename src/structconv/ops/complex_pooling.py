"""Pooling of complex fields: the entry of largest modulus in each window, or the window's mean.

Both have Keras's pooling arguments (`pool_size`, `strides` defaulting to `pool_size`, `padding` `"valid"`
or `"same"`, `data_format`) at ranks 1 to 3, on complex tensors or `(real, imag)` pairs.

- `complex_max_pool_by_magnitude` returns, for each window, the complex entry whose `|z|` is largest (the
  first one on ties), phase included: pooling the parts separately would mix the real part of one entry
  with the imaginary part of another. Its gradient flows to the selected entry only, as for real max
  pooling. Windows are gathered by strided slicing (one slice per tap of the window), so any rank works.
  "same" pads with zeros, whose modulus is never above a real entry's.
- `complex_average_pool` is the mean of each window's entries (with "same", of those inside the input, as
  `keras.layers.AveragePooling2D`), from the same strided slices: `keras.ops.average_pool` has no float64
  3-D kernel on TensorFlow's CPU.
"""

import itertools

import keras
import numpy as np
from keras import ops

from structconv._backend import get_backend
from structconv.errors import invalid_argument
from structconv.ops.complex_conv import join_complex, split_complex
from structconv.ops.tracing import exporting
from structconv.shapes.arithmetic import (
    normalize_data_format,
    normalize_tuple,
    resolve_axis_padding,
    tap_window,
)


def _pool_arguments(real, pool_size, strides, padding, data_format):
    rank = len(real.shape) - 2
    if rank not in (1, 2, 3):
        raise invalid_argument("inputs", f"a tensor of shape {tuple(real.shape)}",
                               "(batch, *spatial, channels) with 1 to 3 spatial axes")
    pool_size = normalize_tuple(pool_size, rank, "pool_size")
    strides = pool_size if strides is None else normalize_tuple(strides, rank, "strides")
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise invalid_argument("padding", padding, "'valid' or 'same'")
    data_format = normalize_data_format(data_format, default=keras.config.image_data_format())
    return rank, pool_size, strides, padding.lower(), data_format


def _windows(parts, pool_size, strides, padding, data_format):
    """Each part as `(batch, *outputs, channels, taps)` (channels_last), one slice per tap of the window,
    and the number of input entries (not padding) in each window, `(1, *outputs, 1, 1)`."""
    rank = len(pool_size)
    if data_format == "channels_first":
        order = (0, *range(2, rank + 2), 1)
        parts = [ops.transpose(part, order) for part in parts]
    sizes = tuple(parts[0].shape[1:-1])
    pads = [resolve_axis_padding(padding, n, k, s) for n, k, s in zip(sizes, pool_size, strides)]
    ones = ops.ones((1, *sizes, 1), dtype=parts[0].dtype)
    if any(before or after for before, after in pads):
        pad_width = [(0, 0), *pads, (0, 0)]
        parts, ones = [ops.pad(part, pad_width) for part in parts], ops.pad(ones, pad_width)
    outputs = [(n + b + a - k) // s + 1 for n, (b, a), k, s in zip(sizes, pads, pool_size, strides)]
    indices = [(slice(None), *(tap_window(t, o, s) for t, o, s in zip(taps, outputs, strides)))
               for taps in itertools.product(*(range(k) for k in pool_size))]
    windows = get_backend().slice_windows  # one gradient buffer per part where the backend can
    stacked = [ops.stack(windows(part, indices), axis=-1) for part in parts]
    count = ops.sum(ops.stack(windows(ones, indices), axis=-1), axis=-1, keepdims=True)
    return stacked, count


def _channels_back(parts, rank, data_format):
    if data_format == "channels_last":
        return parts
    order = (0, rank + 1, *range(1, rank + 1))
    return [ops.transpose(part, order) for part in parts]


def complex_max_pool_by_magnitude(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Max pooling by modulus: each window's entry of largest `|z|`, as a complex number.

    >>> import numpy as np
    >>> real = np.array([[[1.0], [-3.0], [0.5], [2.0]]])  # (batch 1, length 4, 1 channel)
    >>> imag = np.array([[[1.0], [0.0], [0.0], [-2.5]]])
    >>> out = complex_max_pool_by_magnitude((real, imag), 2)
    >>> [np.asarray(p)[0, :, 0].tolist() for p in out]  # |-3| > |1 + i|, |2 - 2.5i| > |0.5|
    [[-3.0, 2.0], [0.0, -2.5]]
    """
    real, imag, as_pair = split_complex(inputs, "inputs")
    rank, pool_size, strides, padding, data_format = _pool_arguments(real, pool_size, strides, padding,
                                                                       data_format)
    (real, imag), _ = _windows((real, imag), pool_size, strides, padding, data_format)
    if exporting(real.shape):
        real, imag = _first_largest_by_mask(real, imag)
    else:
        chosen = ops.expand_dims(ops.argmax(real * real + imag * imag, axis=-1), -1)
        real = ops.squeeze(ops.take_along_axis(real, chosen, axis=-1), -1)
        imag = ops.squeeze(ops.take_along_axis(imag, chosen, axis=-1), -1)
    real, imag = _channels_back((real, imag), rank, data_format)
    return join_complex(real, imag, as_pair)


def _first_largest_by_mask(real, imag):
    """The entry of largest modulus of the last axis (the first of equal ones, as `argmax`) by comparisons
    only, for exported graphs: torch.onnx cannot export `take_along_axis` (aten::take_along_dim) and
    Keras's TensorFlow `argmax` bitcasts floats (its handling of -0.0), which tf2onnx cannot convert."""
    magnitude = real * real + imag * imag
    largest = ops.equal(magnitude, ops.max(magnitude, axis=-1, keepdims=True))
    # taps - index where the modulus is largest (else 0): its maximum marks the first largest entry
    countdown = ops.convert_to_tensor(np.arange(int(real.shape[-1]), 0, -1, dtype=np.int32))
    score = ops.where(largest, countdown, ops.zeros_like(countdown))
    chosen = ops.equal(score, ops.max(score, axis=-1, keepdims=True))
    return tuple(ops.sum(ops.where(chosen, part, ops.zeros_like(part)), axis=-1) for part in (real, imag))


def complex_average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """The mean of each window; with "same", of its entries inside the input (as Keras's average pooling).

    >>> import numpy as np
    >>> out = complex_average_pool((np.array([[[1.0], [3.0]]]), np.array([[[2.0], [0.0]]])), 2)
    >>> [np.asarray(p).ravel().tolist() for p in out]
    [[2.0], [1.0]]
    """
    real, imag, as_pair = split_complex(inputs, "inputs")
    rank, pool_size, strides, padding, data_format = _pool_arguments(real, pool_size, strides, padding,
                                                                       data_format)
    (real, imag), count = _windows((real, imag), pool_size, strides, padding, data_format)
    real, imag = (ops.squeeze(ops.sum(part, axis=-1, keepdims=True) / count, -1) for part in (real, imag))
    real, imag = _channels_back((real, imag), rank, data_format)
    return join_complex(real, imag, as_pair)
