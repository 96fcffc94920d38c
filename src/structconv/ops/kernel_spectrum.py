"""The kernel's spectrum for the FFT convolution (`ops.fft_conv`), computed one of the plan's ways.

By a separable DFT (`FftPlan.kernel_transform` "dft"), one matrix product per spatial axis against a
constant `(taps, frequencies)` matrix that places, flips and dilates the taps, without building the
kernel zero-padded to the FFT lengths: complex (`dft_kernel_spectrum`, in the layout the product reads), or
in real arithmetic with the real and imaginary parts side by side (`dft_kernel_pairs`, for the "planes" and
"packed" products). Or by the backend's FFT of the flipped, dilated kernel (`fft_kernel_spectrum`).
"""

import functools

import numpy as np
from keras import ops

from structconv._backend import get_backend

_COMPLEX = {"float32": "complex64", "float64": "complex128"}


@functools.lru_cache(maxsize=4096)
def _dft_matrix(positions, length, count, complex_dtype):
    """`exp(-2 pi i p f / L)` for the tap positions `p` and the first `count` frequencies `f`, the phase
    reduced exactly in integers first (cached, as eager backends would rebuild it at every call; never
    written to)."""
    phase = (np.outer(np.mod(positions, length), np.arange(count)) % length) / length
    return np.exp(-2j * np.pi * phase).astype(complex_dtype)


def _letters(count, offset):
    return "".join(chr(ord("a") + offset + i) for i in range(count))


def dft_kernel_spectrum(kernel, positions, lengths, working, layout, groups=1, transposed=False):
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
        matrix = backend.constant_like(_dft_matrix(positions_axis, length, count, complex_dtype), k)
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


@functools.lru_cache(maxsize=4096)
def _dft_pairs_matrix(positions, length, count, real_input, float_dtype):
    """`_dft_stage_matrix` as one `(taps * planes in, count * 2)` matrix, for the last stage's plain matrix
    product, which writes the real and imaginary parts of each frequency side by side (cached with it: eager
    backends would rebuild it at every call)."""
    stage = _dft_stage_matrix(positions, length, count, real_input, float_dtype)
    return np.ascontiguousarray(np.transpose(stage, (1, 0, 3, 2)).reshape(-1, 2 * count))


def dft_kernel_pairs(kernel, positions, lengths, working, groups=1, transposed=False, order=None, half=True):
    """The kernel's spectrum as in `dft_kernel_spectrum`, in real arithmetic, the real and imaginary parts
    side by side on a last axis: `(groups, in / groups, out / groups, f[order[0]], ..., f[order[-1]], 2)`,
    the frequency axes in `order` (default: the natural one). With `half`, the last spatial axis keeps its
    first `L // 2 + 1` frequencies (a real FFT's spectrum), else all `L` (a complex FFT's).

    Every stage is a real product (XLA's complex dot on CPU measured 2.5x slower than the real one on the
    same data); the last, over `order[-1]`, is one plain matrix product that writes the whole spectrum in
    this layout, nothing moved after it. The pairs are then read as one complex number by the product that
    uses them (`_pairs_product`), which XLA fuses into its single pass: on JAX (16^4, 8 -> 8 channels,
    batch 2, a spectrum of 16^3 x 9 frequencies) that product took 2.6 ms against 6.0 ms with the real and
    imaginary parts as two planes (the layout before), and as fast as with a complex kernel spectrum.
    `kernel` is `(*taps, in / groups, out)` (`(*taps, out, in)` when `transposed`, with one group).
    """
    backend = get_backend()
    rank = len(lengths)
    order = tuple(range(rank)) if order is None else tuple(order)
    taps, frequencies = _letters(rank, 0), _letters(rank, 8)
    k = ops.cast(kernel, working)
    inputs, outputs = (rank + 1, rank) if transposed else (rank, rank + 1)
    per_group = kernel.shape[outputs] // groups
    k = ops.reshape(ops.transpose(k, (*range(rank), inputs, outputs)),
                    (*kernel.shape[:rank], kernel.shape[inputs], groups, per_group))
    k = ops.transpose(k, (rank + 1, rank, rank + 2, *order))  # (groups, in / groups, out / groups, taps)
    current = "wxy" + "".join(taps[axis] for axis in order)
    for i, axis in enumerate(order):
        length = lengths[axis]
        count = length // 2 + 1 if half and axis == rank - 1 else length
        real_input = i == 0
        positions_key = tuple(int(p) for p in positions[axis])
        if i == rank - 1:
            # (leading, taps p) @ (taps p, count q): the pairs come out last, nothing moves.
            matrix = _dft_pairs_matrix(positions_key, length, count, real_input, working)
            leading = tuple(k.shape[: -1 if real_input else -2])
            flat = ops.reshape(k, (-1, matrix.shape[0]))
            k = backend.einsum("ab,bc->ac", flat, backend.constant_like(matrix, flat))
            return ops.reshape(k, (*leading, count, 2))
        stage = _dft_stage_matrix(positions_key, length, count, real_input, working)
        result = current.replace(taps[axis], frequencies[axis])
        if real_input:
            pattern = f"{current},{taps[axis]}q{frequencies[axis]}->{result}q"
            stage = stage[0]
        else:
            pattern = f"{current}p,p{taps[axis]}q{frequencies[axis]}->{result}q"
        k = backend.einsum(pattern, k, backend.constant_like(stage, k))
        current = result


def fft_kernel_spectrum(kernel, lengths, working, flip, transposed=False):
    """The spectrum `(in, out, *frequencies)` of the (dilated) kernel by the backend's FFT, the taps at
    `0 .. extent - 1`, reversed when `flip`."""
    rank = len(lengths)
    k = ops.cast(kernel, working)
    if flip:
        k = ops.flip(k, axis=tuple(range(rank)))
    order = (rank + 1, rank) if transposed else (rank, rank + 1)
    k = ops.transpose(k, (*order, *range(rank)))
    return get_backend().rfftn(k, tuple(range(2, rank + 2)), lengths)


def to_layout(k_spectrum, groups, layout):
    """A channel-major kernel spectrum `(C / g, F, *f)` in `layout` (frequency-major:
    `(*f, g, C / g, F / g)`), so that the product runs the backend's strategy whichever way the spectrum was
    computed."""
    if layout == "channel-major":
        return k_spectrum
    per_group, filters = k_spectrum.shape[0], k_spectrum.shape[1]
    rank = len(k_spectrum.shape) - 2
    k = ops.reshape(k_spectrum, (per_group, groups, filters // groups, *k_spectrum.shape[2:]))
    return ops.transpose(k, (*range(3, 3 + rank), 1, 0, 2))
