"""Convolution by FFT, for any rank, with the exact semantics of the direct algorithm.

Cross-correlation of a (padded) input of size `n` with a kernel of extent `e` has `n - e + 1` outputs at
stride 1. With real FFTs of length `L >= n` on every spatial axis,

    y = irfftn(rfftn(x, L) * conj(rfftn(k, L)))[:n - e + 1]

because a circular correlation of length `L >= n` does not wrap for those outputs (Mathieu, Henaff and
LeCun, "Fast Training of Convolutional Networks through FFTs", 2014). Channels and groups contract in the
frequency domain (`einsum` over input channels per group); dilation is written into the kernel (zeros
between taps, free in the frequency domain); strides subsample the stride-1 result; padding of every form
and mode is applied to the input first. The transposed convolution is the same product without the
conjugate (a true convolution) of the stride-spread input, then cropped as the direct algorithm crops.

Gradients come from autodiff through the FFTs, which are linear; the dtype is kept (float64 inputs use
complex128 spectra, never a silent downcast).
"""

import math

from keras import ops

from structconv._backend import get_backend
from structconv.ops.padding import pad_spatial, slice_axis, spread

_WORKING_FLOAT = {"float16": "float32", "bfloat16": "float32", "float32": "float32", "float64": "float64"}


def fast_length(n):
    """The smallest length >= `n` whose only prime factors are 2, 3, 5 and 7 (fast for every FFT library).

    >>> [fast_length(n) for n in (7, 11, 97, 1000)]
    [7, 12, 98, 1000]
    """
    best = 1 << max(n - 1, 0).bit_length()
    for f7 in (1, 7, 49, 343):
        for f5 in (1, 5, 25, 125, 625):
            for f3 in (1, 3, 9, 27, 81, 243, 729):
                base = f7 * f5 * f3
                if base >= best:
                    continue
                length = base
                while length < n:
                    length *= 2
                best = min(best, length)
    return best


def _to_channels_first(x, rank, data_format):
    if data_format == "channels_first":
        return x
    return ops.transpose(x, (0, rank + 1, *range(1, rank + 1)))


def _from_channels_first(x, rank, data_format):
    if data_format == "channels_first":
        return x
    return ops.transpose(x, (0, *range(2, rank + 2), 1))


def dilate_kernel(kernel, dilation_rate):
    """Writes the dilation into the kernel: `d - 1` zeros between the taps of each spatial axis."""
    for axis, d in enumerate(dilation_rate):
        kernel = spread(kernel, axis, d)
    return kernel


def _spectra_product(x_spectrum, k_spectrum, groups, batch, conjugate):
    """Contracts input channels per group: `(B, C, *f) x (C/g, F, *f) -> (B, F, *f)` over frequencies."""
    channels, filters = x_spectrum.shape[1], k_spectrum.shape[1]
    frequency_shape = tuple(x_spectrum.shape[2:])
    size = math.prod(frequency_shape)
    x_flat = ops.reshape(x_spectrum, (batch, groups, channels // groups, size))
    k_flat = ops.reshape(k_spectrum, (channels // groups, groups, filters // groups, size))
    if conjugate:
        k_flat = ops.conj(k_flat)
    product = get_backend().einsum("bgcm,cgfm->bgfm", x_flat, k_flat)
    return ops.reshape(product, (batch, filters, *frequency_shape))


def fft_conv(inputs, kernel, args, padding):
    """`conv` by FFT once arguments are checked and `padding` resolved; same result as the direct path."""
    backend = get_backend()
    rank, dtype = args.rank, ops.dtype(inputs)
    x = _to_channels_first(inputs, rank, args.data_format)
    x = pad_spatial(x, padding, args.padding_mode, "channels_first")
    x = ops.cast(x, _WORKING_FLOAT[dtype])
    k = ops.cast(dilate_kernel(kernel, args.dilation_rate), _WORKING_FLOAT[dtype])
    sizes = tuple(x.shape[2:])
    extents = tuple(k.shape[:rank])
    lengths = tuple(fast_length(n) for n in sizes)
    axes = tuple(range(2, rank + 2))
    # Kernel to (in, out, *spatial) so its spatial axes are the FFT axes, as for the input.
    k = ops.transpose(k, (rank, rank + 1, *range(rank)))
    x_spectrum = backend.rfftn(x, axes, lengths)
    k_spectrum = backend.rfftn(k, axes, lengths)
    batch = ops.shape(x)[0]
    y_spectrum = _spectra_product(x_spectrum, k_spectrum, args.groups, batch, conjugate=True)
    y = backend.irfftn(y_spectrum, axes, lengths)
    for axis, (n, e, s) in enumerate(zip(sizes, extents, args.strides)):
        y = slice_axis(y, 2 + axis, 0, n - e + 1, s)
    return _from_channels_first(ops.cast(y, dtype), rank, args.data_format)


def fft_conv_transpose_full(inputs, kernel, args):
    """The *full* transposed convolution by FFT (cropping is the caller's, as for the direct path)."""
    backend = get_backend()
    rank, dtype = args.rank, ops.dtype(inputs)
    x = ops.cast(_to_channels_first(inputs, rank, args.data_format), _WORKING_FLOAT[dtype])
    for axis, s in enumerate(args.strides):
        x = spread(x, 2 + axis, s)
    k = ops.cast(dilate_kernel(kernel, args.dilation_rate), _WORKING_FLOAT[dtype])
    spread_sizes = tuple(x.shape[2:])
    extents = tuple(k.shape[:rank])
    full = tuple(n + e - 1 for n, e in zip(spread_sizes, extents))
    lengths = tuple(fast_length(n) for n in full)
    axes = tuple(range(2, rank + 2))
    # Transposed kernels are (*k, out, in): to (in, out, *spatial).
    k = ops.transpose(k, (rank + 1, rank, *range(rank)))
    x_spectrum = backend.rfftn(x, axes, lengths)
    k_spectrum = backend.rfftn(k, axes, lengths)
    y_spectrum = _spectra_product(x_spectrum, k_spectrum, 1, ops.shape(x)[0], conjugate=False)
    y = backend.irfftn(y_spectrum, axes, lengths)
    for axis, n in enumerate(full):
        y = slice_axis(y, 2 + axis, 0, n)
    return _from_channels_first(ops.cast(y, dtype), rank, args.data_format)
