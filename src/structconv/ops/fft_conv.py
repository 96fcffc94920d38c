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

The input goes through the backend's real N-D FFT. The kernel's spectrum `H` is computed the cheaper of
two ways (`algorithm.kernel_by_dft`): for kernels that are small next to `L` (the usual case), by a
separable DFT, one matrix product per spatial axis against a constant `(taps, frequencies)` matrix that
places, flips and dilates the taps, which never builds the kernel zero-padded to `L` in every axis (the FFT
of that is most of the cost, as there are `in * out` kernel transforms and only `batch * (in + out)`
others); for large kernels,
by the FFT of the flipped, dilated kernel, the output then read from `extent - 1 - before` onwards instead.
Channels and groups contract per frequency (`_spectra_product`); strides subsample the stride-1 result.

The transposed convolution is the same with the taps at `t * d` (a true convolution) of the stride-spread
input, of full length `(n - 1) * s + extent`; the caller crops it as for the direct algorithm.

Gradients come from autodiff through the FFTs and products, which are linear; the dtype is kept (float64
inputs use complex128 spectra, never a silent downcast).
"""

import functools
import math

import keras
import numpy as np
from keras import ops

from structconv._backend import get_backend
from structconv.ops.padding import pad_axis, pad_spatial, slice_axis, spread

_WORKING_FLOAT = {"float16": "float32", "bfloat16": "float32", "float32": "float32", "float64": "float64"}
_COMPLEX = {"float32": "complex64", "float64": "complex128"}

# How the spectral product contracts the input channels of each group, per frequency: up to this many
# input channels per group, as a sum of broadcast products, one per input channel ("loop", channel-major
# operands, which every backend fuses into elementwise passes); above it, as one batched matrix product per
# frequency ("matmul", frequency-major operands: XLA's dot on JAX, BatchMatMul on TensorFlow, bmm on torch).
# Measured through `_spectra_product` (2026-11-22, 2 CPUs, complex64, batch 2, C -> C channels, 10^4-1.6 10^5
# frequencies; benchmarks/fft.py's sweeps use C = 8), loop against matmul in ms: JAX 1.0 / 24, 3.5 / 17,
# 8.2 / 24, 28 / 33, 96 / 56 at C = 2, 8, 16, 32, 64; torch 0.9 / 2.0, 9-18 / 7.4, 19 / 7.8, 38 / 13 at
# C = 2, 8, 16, 32; TensorFlow 3.6 / 5.2, 19 / 6.5, 39 / 11 at C = 2, 8, 16. On JAX the layout also decides
# how the kernel's spectrum is computed: with the complex loop the whole FFT convolution at 16 -> 16
# channels took 27.9 ms (3-D 24^3, k=3) against 10.8 ms with the matrix product (the limit was 8 then);
# with the planes path (`PLANES_PRODUCT`) forward / forward + backward, whole convolution, ms, matrix
# against planes: 3-D 24^3, 16 ch, k=3: 8.7 / 21.6, 6.9 / 21.8; 2-D 64^2, 16 ch, k=5: 2.6 / 7.0, 1.8 / 5.7;
# 2-D 96^2, 16 ch, k=9, batch 4: 8.3 / 20.9, 6.1 / 18.2; 3-D 24^3, 32 ch: 46.8 / 110, 54.3 / 134.
PRODUCT_LOOP_MAX_CHANNELS = {"jax": 16, "torch": 4, "tensorflow": 2}
# Whether the "channel-major" product with a kernel spectrum by DFT matrices computes that spectrum in real
# arithmetic, on real and imaginary planes, and contracts the channels as one fused sum
# (`_dft_kernel_planes`, `_planes_product`), per backend; and from which rank pairs of batch items are
# packed into one complex FFT (`packs_pairs`; the packed path always runs on planes). Measured (2026-11-22,
# 2 CPUs, batch 2, float32, "valid", forward / forward + backward in ms; complex loop, planes, packed):
# JAX 10^5, 4 -> 4, k=3: 15.5 / 21.7, 12.9 / 19.5, 9.9 / 15.5; 8^6, 2 -> 2, k=3: 19.3 / 33.3, 17.2 / 34.1,
# 12.6 / 17.9; 16^4, 8 -> 8, k=3: 23.2 / 36.2, 15.6 / 39.6, 21.9 / 32.1; 32^3, 8 -> 8, k=5: 9.2 / 13.2,
# 5.3 / 10.7, 4.9 / 9.1 (XLA's complex dot is slow, and its complex FFTs faster than its real ones).
# torch 10^5: 13.1 / 38.5, 13.6 / 33.7, 10.2 / 30.9; 8^6: 16.3 / 42.4, 17.7 / 42.0, 9.9 / 28.2; forward
# at ranks 1-3, loop against packed: 0.36 vs 0.54 (1-D 1024, 4 ch), 0.63 vs 0.91 (2-D 128^2, 2 ch), 1.18 vs
# 1.49 (3-D 24^3, 4 ch). TensorFlow: planes and packed within 0.85-1.5x of the loop, either way.
PLANES_PRODUCT = {"jax": True, "torch": False, "tensorflow": False}
PACKED_PAIRS_MIN_RANK = {"jax": 1, "torch": 5}
# Packing pays while `in / groups * out <= ratio * batch * (in + out)` (`packs_pairs`): the JAX
# measurements above have packed faster at 2-4 channels (ratio 1/2 and 1), and at 8 channels with batch 2
# (ratio 2) 0.9x-1.4x the time of planes alone.
PACKED_MAX_KERNEL_RATIO = 1.0
# None: the kernel's spectrum by DFT matrices or by FFT as `algorithm.kernel_by_dft` says; "dft" or "fft"
# forces one way (for benchmarks/calibrate_fft.py and the tests).
KERNEL_TRANSFORM = None
# None: the FFT geometry (whole input, or overlap-save blocks) by the cost model (`algorithm.fft_plan`);
# "whole" or a block factor of `algorithm.BLOCK_FACTORS` forces one (for calibration and the tests).
GEOMETRY = None


@functools.lru_cache(maxsize=4096)
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


def conv_fft_lengths(sizes, extents, padding, padding_mode="zeros"):
    """FFT lengths of `fft_conv` per spatial axis, for input sizes `sizes` and dilated kernel `extents`.

    Zero padding is not materialised (see the module docstring): `L >= n + max(before, after)` and
    `L >= extent`. Other padding modes are materialised first, so their `L` covers the padded size.

    >>> conv_fft_lengths((248,), (15,), ((7, 7),))  # 248 + 7 = 255 -> 256
    (256,)
    >>> conv_fft_lengths((248,), (15,), ((7, 7),), "reflect")  # 248 + 14 = 262 -> 270 (2 * 3^3 * 5)
    (270,)
    >>> conv_fft_lengths((100,), (9,), ((0, 0),))
    (100,)
    """
    if padding_mode != "zeros":
        sizes = tuple(n + before + after for n, (before, after) in zip(sizes, padding))
        padding = ((0, 0),) * len(sizes)
    return tuple(
        fast_length(max(n + max(before, after), e)) for n, e, (before, after) in zip(sizes, extents, padding)
    )


def transpose_fft_lengths(sizes, extents, strides):
    """FFT lengths of `fft_conv_transpose_full`: the full length `(n - 1) * s + extent` per axis."""
    return tuple(fast_length((n - 1) * s + e) for n, e, s in zip(sizes, extents, strides))


def spectrum_size(lengths):
    """Complex points of a real N-D spectrum: the last axis holds `L // 2 + 1` frequencies."""
    return math.prod(lengths[:-1]) * (lengths[-1] // 2 + 1)


def dft_multiply_adds(kernel_size, lengths, half=True):
    """Complex multiply-adds per (input, output) channel pair of the kernel's spectrum by DFT matrices,
    contracting the last spatial axis first (taps to `L // 2 + 1` frequencies, or all `L` when not `half`:
    the spectrum of packed pairs, `packs_pairs`), then the others."""
    frequencies = [*lengths[:-1], lengths[-1] // 2 + 1 if half else lengths[-1]]
    total = 0
    for axis in reversed(range(len(lengths))):
        total += (math.prod(kernel_size[: axis + 1]) * frequencies[axis]
                  * math.prod(frequencies[axis + 1 :]))
    return total


def _kernel_by_dft(kernel_size, lengths, working):
    if KERNEL_TRANSFORM is not None:
        return KERNEL_TRANSFORM == "dft"
    from structconv.ops.algorithm import kernel_by_dft

    return kernel_by_dft(kernel_size, lengths, keras.backend.backend(), 8 if working == "float64" else 4)


@functools.lru_cache(maxsize=4096)
def _dft_matrix(positions, length, count, complex_dtype):
    """`exp(-2 pi i p f / L)` for the tap positions `p` and the first `count` frequencies `f`, the phase
    reduced exactly in integers first (cached, as eager backends would rebuild it at every call; never
    written to)."""
    phase = (np.outer(np.mod(positions, length), np.arange(count)) % length) / length
    return np.exp(-2j * np.pi * phase).astype(complex_dtype)


def _rfftn(x, axes, lengths):
    """The backend's real N-D FFT over the trailing `axes`, zero-padded to `lengths`, differentiable."""
    return get_backend().rfftn(x, axes, lengths)


def _irfftn(z, axes, lengths):
    """Inverse of `_rfftn`: a real tensor with `lengths` along `axes`."""
    return get_backend().irfftn(z, axes, lengths)


def _letters(count, offset):
    return "".join(chr(ord("a") + offset + i) for i in range(count))


def _dft_kernel_spectrum(kernel, positions, lengths, working, layout, groups=1, transposed=False):
    """The spectrum of the kernel with its taps placed at `positions` (one integer array per axis).

    `kernel` is in Keras layout, `(*taps, in / groups, out)` (`(*taps, out, in)` when `transposed`).
    Returns `(in / groups, out, *frequencies)` for the "channel-major" layout, or
    `(*frequencies, groups, in / groups, out / groups)` for "frequency-major" (see `_spectra_product`).
    """
    backend = get_backend()
    rank = len(lengths)
    taps, frequencies = _letters(rank, 0), _letters(rank, 8)
    if transposed:
        k = ops.reshape(kernel, (*kernel.shape[:rank], kernel.shape[-2], 1, kernel.shape[-1]))
        current = taps + "ywx"  # (out, 1, in)
    else:
        per_group = kernel.shape[-1] // groups
        k = ops.reshape(kernel, (*kernel.shape[:rank], kernel.shape[-2], groups, per_group))
        current = taps + "xwy"  # (in / groups, groups, out / groups)
    complex_dtype = _COMPLEX[working]
    # Not a cast to complex: its gradient on TensorFlow casts complex to real with a warning on every trace.
    k = ops.cast(k, working)
    k = backend.complex(k, ops.zeros_like(k))
    for axis in reversed(range(rank)):
        length = lengths[axis]
        count = length // 2 + 1 if axis == rank - 1 else length
        positions_axis = tuple(int(p) for p in positions[axis])
        matrix = ops.convert_to_tensor(_dft_matrix(positions_axis, length, count, complex_dtype))
        result = current.replace(taps[axis], frequencies[axis])
        if axis == 0:
            result = ("xwy" + frequencies) if layout == "channel-major" else (frequencies + "wxy")
        k = backend.einsum(f"{current},{taps[axis]}{frequencies[axis]}->{result}", k, matrix)
        current = result
    if layout == "channel-major":
        k = ops.reshape(k, (k.shape[0], k.shape[1] * k.shape[2], *k.shape[3:]))
    return k


@functools.lru_cache(maxsize=4096)
def _dft_stage_matrix(positions, length, count, real_input, float_dtype):
    """One separable DFT stage on real and imaginary planes, as a real matrix `(p, taps, q, count)`: the
    input planes `p` (1 for a real input, else real and imaginary) and taps to the output planes `q` and
    frequencies, `exp(-2 pi i p f / L)` written out as `[[cos, -sin], [sin, cos]]` (cached, never written
    to)."""
    m = _dft_matrix(positions, length, count, "complex128")
    if real_input:
        return np.stack([m.real, m.imag], axis=1)[None].astype(float_dtype)
    stage = np.empty((2, len(positions), 2, count))
    stage[0, :, 0], stage[1, :, 0] = m.real, -m.imag
    stage[0, :, 1], stage[1, :, 1] = m.imag, m.real
    return stage.astype(float_dtype)


def _dft_kernel_planes(kernel, positions, lengths, working, transposed=False, order=None, half=True):
    """The kernel's spectrum as in `_dft_kernel_spectrum`, in real arithmetic: real and imaginary planes
    `(2, f[order[0]], in, out, f[order[1]], ..., f[order[-1]])`, the frequency axes in `order` (default: the
    natural one), the first ahead of the channels. With `half`, the last spatial axis keeps its first
    `L // 2 + 1` frequencies (a real FFT's spectrum), else all `L` (a complex FFT's).

    Every stage is a real product (XLA's complex dot on CPU measured 2.5x slower than the real one on the
    same data); the last, over `order[0]`, the largest, is one plain matrix product that writes its output
    in place, without the transpose an einsum would add. `kernel` is `(*taps, in, out)` (`(*taps, out, in)`
    when `transposed`); groups need no reshaping: the product splits `out`.
    """
    rank = len(lengths)
    order = tuple(range(rank)) if order is None else tuple(order)
    taps, frequencies = _letters(rank, 0), _letters(rank, 8)
    planes = ops.cast(kernel, working)
    if transposed:
        planes = ops.transpose(planes, (*range(rank), rank + 1, rank))
    current = taps + "xy"  # the planes' axes, after the leading planes axis once there is one
    stages = list(reversed(order))
    for i, axis in enumerate(stages):
        length = lengths[axis]
        count = length // 2 + 1 if half and axis == rank - 1 else length
        real_input = i == 0
        stage = _dft_stage_matrix(tuple(int(p) for p in positions[axis]), length, count, real_input, working)
        if i == len(stages) - 1:
            # (q f, p t) @ (p t, rest): the output planes and frequencies lead, nothing moves.
            matrix = np.transpose(stage, (2, 3, 0, 1)).reshape(2 * count, -1)
            rest = tuple(planes.shape[1 if real_input else 2 :])
            flat = ops.reshape(planes, (matrix.shape[1], -1))
            planes = get_backend().einsum("ab,bc->ac", ops.convert_to_tensor(matrix, working), flat)
            return ops.reshape(planes, (2, count, *rest))
        result = current.replace(taps[axis], "")
        result = "q" + result.replace("xy", "xy" + frequencies[axis])
        if real_input:
            pattern = f"{current},{taps[axis]}q{frequencies[axis]}->{result}"
            stage = stage[0]
        else:
            pattern = f"p{current},p{taps[axis]}q{frequencies[axis]}->{result}"
        planes = get_backend().einsum(pattern, planes, ops.convert_to_tensor(stage, working))
        current = result[1:]


def _planes_product(x_spectrum, k_planes, groups, batch):
    """`_spectra_product` with the kernel's spectrum as planes `(2, f1, C / g, F, f2, ...)`
    (`_dft_kernel_planes`): the planes joined into one complex kernel as they are read, and the input
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


def _fft_kernel_spectrum(kernel, lengths, working, flip, transposed=False):
    """The spectrum `(in, out, *frequencies)` of the (dilated) kernel by the backend's FFT, the taps at
    `0 .. extent - 1`, reversed when `flip`."""
    rank = len(lengths)
    k = ops.cast(kernel, working)
    if flip:
        k = ops.flip(k, axis=tuple(range(rank)))
    order = (rank + 1, rank) if transposed else (rank, rank + 1)
    k = ops.transpose(k, (*order, *range(rank)))
    return _rfftn(k, tuple(range(2, rank + 2)), lengths)


def _to_layout(k_spectrum, groups, layout):
    """A channel-major kernel spectrum `(C / g, F, *f)` in `layout` (frequency-major:
    `(*f, g, C / g, F / g)`), so that the product runs the backend's strategy whichever way the spectrum was
    computed."""
    if layout == "channel-major":
        return k_spectrum
    per_group, filters = k_spectrum.shape[0], k_spectrum.shape[1]
    rank = len(k_spectrum.shape) - 2
    k = ops.reshape(k_spectrum, (per_group, groups, filters // groups, *k_spectrum.shape[2:]))
    return ops.transpose(k, (*range(3, 3 + rank), 1, 0, 2))


def packs_pairs(batch, channels, filters, groups, rank, backend_name=None):
    """Whether a convolution whose kernel's spectrum is computed by DFT matrices packs pairs of batch items
    into one complex signal (`_packed_planes_correlation`): from the rank `PACKED_PAIRS_MIN_RANK` gives for
    the backend, with the broadcast ("channel-major") product, for an even batch size known when tracing
    (`batch` counts overlap-save blocks), and where the kernel's spectrum is no larger than the inputs' and
    outputs': packing keeps every frequency of the kernel (a real FFT keeps about half), so it pays only
    while the kernel's channel pairs are few, `in / groups * out <= PACKED_MAX_KERNEL_RATIO * batch *
    (in + out)`."""
    backend_name = backend_name or keras.backend.backend()
    min_rank = PACKED_PAIRS_MIN_RANK.get(backend_name)
    return (min_rank is not None and rank >= min_rank
            and product_layout(channels // groups, backend_name) == "channel-major"
            and isinstance(batch, int) and batch % 2 == 0
            and channels // groups * filters <= PACKED_MAX_KERNEL_RATIO * batch * (channels + filters))


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
    k_planes = _dft_kernel_planes(kernel, positions, lengths, working, transposed, order, half=False)
    y = backend.ifftn(_planes_product(spectrum, k_planes, groups, x.shape[0] // 2))
    y = ops.stack([ops.real(y), ops.imag(y)], axis=1)
    return ops.reshape(y, (x.shape[0], *y.shape[2:]))


def _by_planes(layout):
    """Whether a kernel spectrum by DFT is computed and multiplied on real planes (`_dft_kernel_planes`,
    `_planes_product`) without packing: with the "channel-major" product, on the backends `PLANES_PRODUCT`
    names."""
    return layout == "channel-major" and PLANES_PRODUCT.get(keras.backend.backend(), False)


def product_layout(per_group, backend_name=None):
    """The kernel spectrum's layout for the spectral product of `per_group` input channels per group:
    "channel-major" (a sum of broadcast products) up to the backend's `PRODUCT_LOOP_MAX_CHANNELS`,
    "frequency-major" (a batched matrix product per frequency) above."""
    limit = PRODUCT_LOOP_MAX_CHANNELS.get(backend_name or keras.backend.backend(), 8)
    return "channel-major" if per_group <= limit else "frequency-major"


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
    y = x_flat[:, :, 0:1, :] * k_flat[0][None]
    for c in range(1, per_group):
        y = y + x_flat[:, :, c : c + 1, :] * k_flat[c][None]
    return ops.reshape(y, (batch, filters, *frequency_shape))


def _circular_correlation(x, kernel, lengths, groups, working, positions=None, flip=True, transposed=False):
    """The circular correlation `(B, F, *lengths)` of real `x` `(B, C, *n)` with the kernel: its spectrum by
    DFT matrices with the taps at `positions`, or, without `positions`, by the FFT of the dilated kernel
    (reversed when `flip`). Runs the spectral product `product_layout` and the backend's constants say:
    packed pairs, planes, or complex spectra."""
    rank = len(lengths)
    axes = tuple(range(2, rank + 2))
    channels = x.shape[1]
    filters = kernel.shape[-2] if transposed else kernel.shape[-1]
    layout = product_layout(channels // groups)
    if positions is not None and packs_pairs(x.shape[0], channels, filters, groups, rank):
        return _packed_planes_correlation(x, kernel, positions, lengths, working, groups, transposed)
    batch = ops.shape(x)[0]
    x_spectrum = _rfftn(x, axes, lengths)
    if positions is not None and _by_planes(layout):
        k_planes = _dft_kernel_planes(kernel, positions, lengths, working, transposed)
        y_spectrum = _planes_product(x_spectrum, k_planes, groups, batch)
    else:
        if positions is not None:
            k_spectrum = _dft_kernel_spectrum(kernel, positions, lengths, working, layout, groups, transposed)
        else:
            k_spectrum = _to_layout(_fft_kernel_spectrum(kernel, lengths, working, flip, transposed), groups,
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
    return ops.take(x, ops.convert_to_tensor(indices, "int32"), axis=axis)


def _plan(sizes, extents, kernel_size, padding, padding_mode, batch, channels, filters, groups, working):
    from structconv import config
    from structconv.ops.algorithm import fft_plan

    return fft_plan(sizes, extents, kernel_size, tuple(padding), padding_mode, batch or 1, channels, filters,
                    groups, 8 if working == "float64" else 4, keras.backend.backend(),
                    config.fft_memory_budget(), GEOMETRY)


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


def fft_conv(inputs, kernel, args, padding):
    """`conv` by FFT once arguments are checked and `padding` resolved; same result as the direct path."""
    rank, dtype = args.rank, ops.dtype(inputs)
    working = _WORKING_FLOAT[keras.backend.standardize_dtype(dtype)]
    x = _to_channels_first(inputs, rank, args.data_format)
    channels, filters = x.shape[1], kernel.shape[-1]
    sizes = tuple(x.shape[2:])
    kernel_size = tuple(kernel.shape[:rank])
    extents = tuple((k - 1) * d + 1 for k, d in zip(kernel_size, args.dilation_rate))
    plan = _plan(sizes, extents, kernel_size, padding, args.padding_mode, x.shape[0], channels, filters,
                 args.groups, working)
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
    if KERNEL_TRANSFORM == "dft" or KERNEL_TRANSFORM is None and plan.kernel_by_dft:
        # Taps placed at `before - t * d`: flip, dilation and padding offset in one constant matrix.
        positions = [before - d * np.arange(k) for k, d, (before, _) in
                     zip(kernel_size, args.dilation_rate, padding)]
        y = _circular_correlation(x, kernel, lengths, args.groups, working, positions)
        starts = (0,) * rank
    else:
        k = dilate_kernel(kernel, args.dilation_rate)
        y = _circular_correlation(x, k, lengths, args.groups, working, flip=True)
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


def fft_conv_transpose_full(inputs, kernel, args):
    """The *full* transposed convolution by FFT (cropping is the caller's, as for the direct path)."""
    rank, dtype = args.rank, ops.dtype(inputs)
    working = _WORKING_FLOAT[keras.backend.standardize_dtype(dtype)]
    x = ops.cast(_to_channels_first(inputs, rank, args.data_format), working)
    sizes = tuple(x.shape[2:])
    for axis, s in enumerate(args.strides):
        x = spread(x, 2 + axis, s)
    kernel_size = tuple(kernel.shape[:rank])
    extents = tuple((k - 1) * d + 1 for k, d in zip(kernel_size, args.dilation_rate))
    full = tuple((n - 1) * s + e for n, s, e in zip(sizes, args.strides, extents))
    lengths = transpose_fft_lengths(sizes, extents, args.strides)
    if _kernel_by_dft(kernel_size, lengths, working):
        positions = [d * np.arange(k) for k, d in zip(kernel_size, args.dilation_rate)]
        y = _circular_correlation(x, kernel, lengths, 1, working, positions, transposed=True)
    else:
        k = dilate_kernel(kernel, args.dilation_rate)
        y = _circular_correlation(x, k, lengths, 1, working, flip=False, transposed=True)
    for axis, n in enumerate(full):
        y = slice_axis(y, 2 + axis, 0, n)
    return _from_channels_first(ops.cast(y, dtype), rank, args.data_format)
