"""Convolution by FFT, for any rank, with the exact semantics of the direct algorithm.

A convolution layer computes the cross-correlation `y[i] = sum_t x[i * s - before + t * d] . k[t]` of the
input `x` (zero outside its `n` samples, or padded by a padding mode) with the kernel `k` of `taps` taps at
dilation `d`, stride `s`. On every spatial axis this is the circular convolution of length `L` of `x` with
the *placed* kernel `h`, the tap `t` put at position `(before - t * d) mod L`:

    y = irfftn(rfftn(x, L) * H)[::s]       with   H[f] = sum_t k[t] exp(-2 pi i (before - t * d) f / L)

It equals the linear result (nothing wraps around) as soon as `L >= n + max(before, after)` and `L` is at
least the dilated extent: the pads the correlation reads, `x[j]` for `j` in `[-before, 0)` and
`[n, n + after)`, land on the zeros that the transform appends. So zero padding is never materialised, and
the FFTs are shorter than a linear correlation's `n + extent - 1` (for "same", about `n + extent / 2`);
Mathieu, Henaff and LeCun, "Fast Training of Convolutional Networks through FFTs" (2014), use the linear
length. Other padding modes are materialised first.

The input goes through the backend's real N-D FFT. The kernel's spectrum `H` is computed one of two ways, as
the plan says (`FftPlan.kernel_transform`, chosen by `ops.planner`; computed by `ops.kernel_spectrum`):
for kernels that are small next to `L` (the usual case), by a separable DFT, one matrix product per
spatial axis against a constant `(taps, frequencies)` matrix that places, flips and dilates the taps,
which never builds the kernel zero-padded to `L` in every axis (the FFT of that is most of the cost, as
there are `in * out` kernel transforms and only `batch * (in + out)` others); for large kernels, by the FFT
of the flipped, dilated kernel, the output then read from `extent - 1 - before` onwards instead.
Channels and groups contract per frequency as the plan's `product` says (`_circular_correlation`); strides
subsample the stride-1 result. Every decision is the plan's: this module only executes.

The transposed convolution is the same with the taps at `t * d` (a true convolution) of the stride-spread
input, of full length `(n - 1) * s + extent`; the caller crops it as for the direct algorithm.

Gradients come from autodiff through the FFTs and products, which are linear; the dtype is kept (float64
inputs use complex128 spectra, never a silent downcast).
"""

import math

import keras
import numpy as np
from keras import ops

from structconv._backend import get_backend
from structconv.ops.gather import gather
from structconv.ops.kernel_spectrum import (
    dft_kernel_planes,
    dft_kernel_spectrum,
    fft_kernel_spectrum,
    to_layout,
)
from structconv.ops.padding import pad_axis, pad_spatial, slice_axis, spread
from structconv.ops.problem import WORKING_FLOAT

# The measurements behind each product strategy's preference per backend (the profiles' `strategy`,
# `structconv.tuning.profile`) are in docs/fft.md.


def _rfftn(x, axes, lengths):
    """The backend's real N-D FFT over the trailing `axes`, zero-padded to `lengths`, differentiable."""
    return get_backend().rfftn(x, axes, lengths)


def _irfftn(z, axes, lengths):
    """Inverse of `_rfftn`: a real tensor with `lengths` along `axes`."""
    return get_backend().irfftn(z, axes, lengths)


def _planes_product(x_spectrum, k_planes, groups, batch):
    """`_spectra_product` with the kernel's spectrum as planes `(2, f1, C / g, F, f2, ...)`
    (`dft_kernel_planes`): the planes joined into one complex kernel as they are read, and the input
    channels contracted as one broadcast product summed over the channel axis, which XLA fuses into a
    single pass, never materialising the product.

    Written as a sum rather than `_spectra_product`'s loop over channels because of the gradient: the loop's
    per-channel kernel slices come back as one zero-padded full-size kernel gradient per channel (16^4,
    8 -> 8 channels, forward + backward: 81 ms against 40 ms). The kernel's first frequency axis stays apart
    from the others (flattening them together made XLA copy the whole spectrum first, 37 ms against 21 ms
    forward); the others are flattened, which keeps every tensor within TensorFlow's 8 sliceable dimensions.
    """
    channels = x_spectrum.shape[1]
    frequency_shape = tuple(x_spectrum.shape[2:])
    per_group = channels // groups
    filters = k_planes.shape[3]
    first, others = frequency_shape[0], math.prod(frequency_shape[1:])
    k = ops.reshape(k_planes, (2, first, per_group, groups, filters // groups, others))
    k = get_backend().complex(k[0], k[1])  # (f1, C / g, g, F / g, others)
    k = ops.transpose(k, (1, 2, 3, 0, 4))[None]  # (1, C / g, g, F / g, f1, others)
    x = ops.reshape(x_spectrum, (batch, groups, per_group, first, others))
    x = ops.transpose(x, (0, 2, 1, 3, 4))[:, :, :, None]  # (B, C / g, g, 1, f1, others)
    return ops.reshape(ops.sum(x * k, axis=1), (batch, filters, *frequency_shape))


def _packed_planes_correlation(x, kernel, positions, lengths, working, groups, transposed=False):
    """The circular correlation `(B, F, *lengths)` of real `x` `(B, C, *n)` with the kernel's taps at
    `positions` (a transposed convolution's kernel when `transposed`), two batch items per complex FFT.

    Item `2 j` goes into the real part and `2 j + 1` into the imaginary part of one complex signal. The
    convolution is linear with a real kernel, so the inverse FFT of the product is the pair's two real
    outputs in the real and imaginary parts: no unpacking of spectra, and every FFT is complex, which XLA
    runs faster than its real FFTs (`PACKED_PAIRS_MIN_RANK`). The spectrum keeps the backend's axis order
    (`fft_axis_order`), the kernel's planes are computed in it.
    """
    backend = get_backend()
    rank = len(lengths)
    pairs = backend.complex(x[0::2], x[1::2])
    spectrum = backend.fftn(pairs, lengths)
    order = backend.fft_axis_order(rank)
    k_planes = dft_kernel_planes(kernel, positions, lengths, working, transposed, order, half=False)
    y = backend.ifftn(_planes_product(spectrum, k_planes, groups, x.shape[0] // 2))
    y = ops.stack([ops.real(y), ops.imag(y)], axis=1)
    return ops.reshape(y, (x.shape[0], *y.shape[2:]))


def _spectra_product(x_spectrum, k_spectrum, groups, batch, layout):
    """Contracts input channels per group and frequency: `(B, C, *f)` and the kernel's spectrum to
    `(B, F, *f)`.

    The kernel's spectrum is `(C / g, F, *f)` ("channel-major": a sum over input channels of broadcast
    products) or `(*f, g, C / g, F / g)` ("frequency-major": a batched matrix product per frequency), `F`
    in group-major order, as Keras's grouped kernels.
    """
    channels = x_spectrum.shape[1]
    frequency_shape = tuple(x_spectrum.shape[2:])
    size = math.prod(frequency_shape)
    per_group = channels // groups
    x_flat = ops.reshape(x_spectrum, (batch, groups, per_group, size))
    if layout == "frequency-major":
        filters = groups * k_spectrum.shape[-1]
        k_flat = ops.reshape(k_spectrum, (size, groups, per_group, filters // groups))
        x_major = ops.transpose(x_flat, (3, 1, 0, 2))  # (f, g, B, C / g)
        y = get_backend().einsum("mgbc,mgcf->mgbf", x_major, k_flat)
        y = ops.transpose(y, (2, 1, 3, 0))
        return ops.reshape(y, (batch, filters, *frequency_shape))
    filters = k_spectrum.shape[1]
    k_flat = ops.reshape(k_spectrum, (per_group, groups, filters // groups, size))
    y = get_backend().channel_products(x_flat, k_flat)
    return ops.reshape(y, (batch, filters, *frequency_shape))


def _circular_correlation(x, kernel, lengths, groups, working, product, positions=None, flip=True,
                          transposed=False):
    """The circular correlation `(B, F, *lengths)` of real `x` `(B, C, *n)` with the kernel: its spectrum by
    DFT matrices with the taps at `positions`, or, without `positions`, by the FFT of the dilated kernel
    (reversed when `flip`), multiplied as `product` says (`FftPlan.product`; "planes" and "packed" need
    the DFT, "packed" an even batch)."""
    rank = len(lengths)
    axes = tuple(range(2, rank + 2))
    layout = "frequency-major" if product == "matmul" else "channel-major"
    if positions is not None and product == "packed":
        return _packed_planes_correlation(x, kernel, positions, lengths, working, groups, transposed)
    batch = ops.shape(x)[0]
    x_spectrum = _rfftn(x, axes, lengths)
    if positions is not None and product in ("planes", "packed"):
        k_planes = dft_kernel_planes(kernel, positions, lengths, working, transposed)
        y_spectrum = _planes_product(x_spectrum, k_planes, groups, batch)
    else:
        if positions is not None:
            k_spectrum = dft_kernel_spectrum(kernel, positions, lengths, working, layout, groups, transposed)
        else:
            k_spectrum = to_layout(fft_kernel_spectrum(kernel, lengths, working, flip, transposed), groups,
                                    layout)
        y_spectrum = _spectra_product(x_spectrum, k_spectrum, groups, batch, layout)
    return _irfftn(y_spectrum, axes, lengths)


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


def _circular_slice(x, axis, start, count, step, length):
    """`x[(start + i * step) mod length for i in range(count)]` on `axis`: a plain slice unless an index
    wraps, which only paddings larger than the kernel's extent make happen."""
    stop = start + (count - 1) * step
    if 0 <= start and stop < length:
        return slice_axis(x, axis, start, stop + 1, step)
    indices = [(start + i * step) % length for i in range(count)]
    return gather(x, indices, axis=axis)


def _frame(x, axis, count, step, extent):
    """Cuts `axis` into `count` overlapping blocks of `step + extent - 1` samples, `step` apart (zeros past
    the end): the axis becomes two, `(count, block)`. Needs `extent - 1 <= step`."""
    x = pad_axis(x, axis, 0, (count + 1) * step - x.shape[axis])  # never negative: extent - 1 <= step
    shape = [-1 if i == 0 else size for i, size in enumerate(x.shape)]
    x = ops.reshape(x, shape[:axis] + [count + 1, step] + shape[axis + 1 :])
    head = slice_axis(x, axis, 0, count)
    if extent == 1:
        return head
    tail = slice_axis(slice_axis(x, axis, 1, count + 1), axis + 1, 0, extent - 1)
    return ops.concatenate([head, tail], axis=axis + 1)


def fft_conv(inputs, kernel, args, plan):
    """`conv` by FFT as `plan` (an `FftPlan`) says, with `args` (a `ConvProblem`: resolved padding,
    strides, dilation, groups, data format); the same result as the direct path."""
    rank, dtype = args.rank, ops.dtype(inputs)
    padding = args.padding
    working = WORKING_FLOAT[keras.backend.standardize_dtype(dtype)]
    x = _to_channels_first(inputs, rank, args.data_format)
    sizes = tuple(x.shape[2:])
    kernel_size = tuple(kernel.shape[:rank])
    extents = tuple((k - 1) * d + 1 for k, d in zip(kernel_size, args.dilation_rate))
    if args.padding_mode != "zeros" or plan.blocked:
        x = pad_spatial(x, padding, args.padding_mode, "channels_first")
        sizes = tuple(x.shape[2:])
        padding = ((0, 0),) * rank
    x = ops.cast(x, working)
    lengths = plan.lengths
    if plan.blocked:
        # Overlap-save: (B, C, *n) -> (B * blocks, C, *block), each block transformed on its own. The blocks
        # of each axis join the batch at once (last axis first), so no tensor has more than rank + 3 axes
        # (TensorFlow slices at most 8).
        for axis in reversed(range(rank)):
            if plan.counts[axis] > 1:
                x = _frame(x, 2 + axis, plan.counts[axis], plan.steps[axis], extents[axis])
                order = list(range(len(x.shape)))
                order.insert(1, order.pop(2 + axis))
                x = ops.transpose(x, order)
                x = ops.reshape(x, (-1, *x.shape[2:]))
    if plan.kernel_transform == "dft":
        # Taps placed at `before - t * d`: flip, dilation and padding offset in one constant matrix.
        positions = [before - d * np.arange(k) for k, d, (before, _) in
                     zip(kernel_size, args.dilation_rate, padding)]
        y = _circular_correlation(x, kernel, lengths, args.groups, working, plan.product, positions)
        starts = (0,) * rank
    else:
        k = dilate_kernel(kernel, args.dilation_rate)
        y = _circular_correlation(x, k, lengths, args.groups, working, plan.product, flip=True)
        starts = tuple(e - 1 - before for e, (before, _) in zip(extents, padding))
    if plan.blocked:
        # Each block's first `step` outputs, the blocks put back side by side (first axis first: its blocks
        # are the innermost of the batch).
        for axis in range(rank):
            y = slice_axis(y, 2 + axis, starts[axis], starts[axis] + plan.steps[axis])
        for axis in range(rank):
            count = plan.counts[axis]
            if count == 1:
                continue
            y = ops.reshape(y, (-1, count, *y.shape[1:]))
            order = list(range(len(y.shape)))
            order.insert(2 + axis, order.pop(1))  # the blocks just before their axis
            y = ops.transpose(y, order)
            shape = list(y.shape[1:])
            y = ops.reshape(y, (-1, *shape[: 1 + axis], count * shape[2 + axis], *shape[3 + axis :]))
        starts, lengths = (0,) * rank, tuple(c * step for c, step in zip(plan.counts, plan.steps))
    for axis, (n, e, s, (before, after), length, start) in enumerate(
        zip(sizes, extents, args.strides, padding, lengths, starts)
    ):
        count = (n + before + after - e) // s + 1
        y = _circular_slice(y, 2 + axis, start, count, s, length)
    return _from_channels_first(ops.cast(y, dtype), rank, args.data_format)


def fft_conv_transpose_full(inputs, kernel, args, plan):
    """The *full* transposed convolution by FFT as `plan` says (cropping is the caller's, as for the
    direct path)."""
    rank, dtype = args.rank, ops.dtype(inputs)
    working = WORKING_FLOAT[keras.backend.standardize_dtype(dtype)]
    x = ops.cast(_to_channels_first(inputs, rank, args.data_format), working)
    sizes = tuple(x.shape[2:])
    for axis, s in enumerate(args.strides):
        x = spread(x, 2 + axis, s)
    kernel_size = tuple(kernel.shape[:rank])
    extents = tuple((k - 1) * d + 1 for k, d in zip(kernel_size, args.dilation_rate))
    full = tuple((n - 1) * s + e for n, s, e in zip(sizes, args.strides, extents))
    lengths = plan.lengths
    if plan.kernel_transform == "dft":
        positions = [d * np.arange(k) for k, d in zip(kernel_size, args.dilation_rate)]
        y = _circular_correlation(x, kernel, lengths, 1, working, plan.product, positions, transposed=True)
    else:
        k = dilate_kernel(kernel, args.dilation_rate)
        y = _circular_correlation(x, k, lengths, 1, working, plan.product, flip=False, transposed=True)
    for axis, n in enumerate(full):
        y = slice_axis(y, 2 + axis, 0, n)
    return _from_channels_first(ops.cast(y, dtype), rank, args.data_format)
