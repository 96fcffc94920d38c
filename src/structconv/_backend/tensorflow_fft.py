"""TensorFlow's FFTs for the backend tier (`structconv._backend.tensorflow` exports `rfftn`, `irfftn`,
`fftn`, `ifftn`, `fft_axis_order`, `fft2` and `ifft2` from here): TensorFlow transforms at most the 3
innermost axes, so the others are moved there and back."""

import tensorflow as tf

from structconv._backend import grouped_axis_order, trailing_axis_groups

# TensorFlow's FFTs transform at most the 3 innermost axes; further (leading) FFT axes are transformed one
# at a time by complex FFTs on the innermost axis, the axis moved there and back.
_RFFT = {1: tf.signal.rfft, 2: tf.signal.rfft2d, 3: tf.signal.rfft3d}
_IRFFT = {1: tf.signal.irfft, 2: tf.signal.irfft2d, 3: tf.signal.irfft3d}


def _along_axis(x, axis, transform):
    last = len(x.shape) - 1
    if axis == last:
        return transform(x)
    order = list(range(len(x.shape)))
    order[axis], order[last] = last, axis
    return tf.transpose(transform(tf.transpose(x, order)), order)


def _pad_to(x, axis, length):
    extra = length - x.shape[axis]
    if extra <= 0:
        return x
    shape = tf.concat([tf.shape(x)[:axis], [extra], tf.shape(x)[axis + 1 :]], axis=0)
    return tf.concat([x, tf.zeros(shape, x.dtype)], axis=axis)


def rfftn(x, axes, lengths):
    """Real N-D FFT over `axes` (the trailing axes), zero-padding each to its length in `lengths`."""
    # At most 2 axes by TensorFlow's real FFTs: RFFT3D and IRFFT3D have no registered gradient.
    inner = min(len(axes), 2)
    spectrum = _RFFT[inner](x, fft_length=list(lengths[-inner:]))
    for axis, length in zip(axes[:-inner], lengths[:-inner]):
        spectrum = _pad_to(spectrum, axis, length)
        spectrum = _along_axis(spectrum, axis, tf.signal.fft)
    return spectrum


def irfftn(x, axes, lengths):
    """Inverse of `rfftn`: a real tensor with `lengths` along `axes`."""
    inner = min(len(axes), 2)
    for axis in axes[:-inner]:
        x = _along_axis(x, axis, tf.signal.ifft)
    return _IRFFT[inner](x, fft_length=list(lengths[-inner:]))


_FFT = {1: tf.signal.fft, 2: tf.signal.fft2d, 3: tf.signal.fft3d}
_IFFT = {1: tf.signal.ifft, 2: tf.signal.ifft2d, 3: tf.signal.ifft3d}


def _move_axes(x, sources, destinations):
    """`moveaxis` for several axes (TensorFlow has none)."""
    rest = [axis for axis in range(len(x.shape)) if axis not in sources]
    order = [None] * len(x.shape)
    for source, destination in zip(sources, destinations):
        order[destination] = source
    remaining = iter(rest)
    order = [next(remaining) if axis is None else axis for axis in order]
    return tf.transpose(x, order)


def fft_axis_order(rank):
    """The order of the spatial axes in the spectrum of `fftn`: TensorFlow's FFTs transform the 3 innermost
    axes, so the others are moved behind them, 3 at a time, and left there."""
    return grouped_axis_order(rank)


def fftn(x, lengths):
    """Complex FFT of `(B, C, *spatial)` over every spatial axis, zero-padded to `lengths`; the spectrum's
    frequency axes come in `fft_axis_order(rank)`."""
    rank = len(x.shape) - 2
    for axis, length in enumerate(lengths):
        x = _pad_to(x, 2 + axis, length)
    for i, group in enumerate(trailing_axis_groups(rank)):
        ndim = len(x.shape)
        if i:
            x = _move_axes(x, [2 + a for a in group], list(range(ndim - len(group), ndim)))
        x = _FFT[len(group)](x)
    return x


def ifftn(x):
    """Inverse of `fftn`: the complex signal with its spatial axes back in their natural order."""
    ndim = len(x.shape)
    groups = trailing_axis_groups(ndim - 2)
    for i, group in reversed(list(enumerate(groups))):
        x = _IFFT[len(group)](x)
        if i:
            x = _move_axes(x, list(range(ndim - len(group), ndim)), [2 + a for a in group])
    return x


def fft2(x, axes):
    """Complex 2-D FFT of `x` over its two `axes` (free-space propagation: channels_last transforms axes 1
    and 2). TensorFlow's FFTs transform the innermost axes only, so other axes cost a transpose each way."""
    return _along_two_axes(tf.signal.fft2d, x, axes)


def ifft2(x, axes):
    """Inverse of `fft2`."""
    return _along_two_axes(tf.signal.ifft2d, x, axes)


def _along_two_axes(transform, x, axes):
    ndim = len(x.shape)
    axes = [axis % ndim for axis in axes]
    if axes == [ndim - 2, ndim - 1]:
        return transform(x)
    order = [axis for axis in range(ndim) if axis not in axes] + axes
    back = [order.index(axis) for axis in range(ndim)]
    return tf.transpose(transform(tf.transpose(x, order)), back)
