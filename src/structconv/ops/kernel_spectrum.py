"""The kernel's spectrum for the FFT convolution (`ops.fft_conv`), computed one of the plan's ways.

By a separable DFT (`FftPlan.kernel_transform` "dft"), one matrix product per spatial axis against a
constant `(taps, frequencies)` matrix that places, flips and dilates the taps, without building the
kernel zero-padded to the FFT lengths: complex (`dft_kernel_spectrum`, in the layout the product reads), or
in real arithmetic on real and imaginary planes (`dft_kernel_planes`, for the "planes" and "packed"
products). Or by the backend's FFT of the flipped, dilated kernel (`fft_kernel_spectrum`).
"""

import functools
import math

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
    `(*frequencies, groups, in / groups, out / groups)` for "frequency-major" (see
    `ops.fft_conv._spectra_product`).

    The (small) kernel's channels are put in the layout's order first, its taps where the frequencies go;
    each axis's stage is then one broadcast matrix product `(frequencies, taps) @ (before, taps, after)` that
    writes its output in place. Stages as einsums, which moved the growing spectrum into the layout as they
    went, took 2-2.5x as long on TensorFlow and torch (4-D 14^4 lengths, 16 x 16 channels, 3^4 taps: 64
    against 25 ms and 56 against 23 ms on 2 threads of an AMD EPYC; JAX alike within its noise).
    """
    backend = get_backend()
    rank = len(lengths)
    if transposed:
        k = ops.reshape(kernel, (*kernel.shape[:rank], kernel.shape[-2], 1, kernel.shape[-1]))
        outs, ones, ins = rank, rank + 1, rank + 2  # (out, 1, in)
    else:
        per_group = kernel.shape[-1] // groups
        k = ops.reshape(kernel, (*kernel.shape[:rank], kernel.shape[-2], groups, per_group))
        ins, ones, outs = rank, rank + 1, rank + 2  # (in / groups, groups, out / groups)
    if layout == "channel-major":
        k, first = ops.transpose(k, (ins, ones, outs, *range(rank))), 3
    else:
        k, first = ops.transpose(k, (*range(rank), ones, ins, outs)), 0
    # Not a cast to complex: its gradient on TensorFlow casts complex to real with a warning on every trace.
    k = ops.cast(k, working)
    k = backend.complex(k, ops.zeros_like(k))
    for axis in reversed(range(rank)):
        length = lengths[axis]
        count = length // 2 + 1 if axis == rank - 1 else length
        rows = _dft_rows(tuple(int(p) for p in positions[axis]), length, count, _COMPLEX[working])
        shape, at = tuple(k.shape), first + axis
        view = ops.reshape(k, (math.prod(shape[:at]), shape[at], math.prod(shape[at + 1 :])))
        k = ops.reshape(backend.matmul(backend.constant_like(rows, view), view),
                        (*shape[:at], count, *shape[at + 1 :]))
    if layout == "channel-major":
        k = ops.reshape(k, (k.shape[0], k.shape[1] * k.shape[2], *k.shape[3:]))
    return k


@functools.lru_cache(maxsize=4096)
def _dft_rows(positions, length, count, complex_dtype):
    """`_dft_matrix` transposed, `(count, taps)`, contiguous (cached, never written to)."""
    return np.ascontiguousarray(_dft_matrix(positions, length, count, complex_dtype).T)


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
def _dft_last_stage_matrix(positions, length, count, real_input, float_dtype):
    """`_dft_stage_matrix` as one `(planes out * count, planes in * taps)` matrix, for the last stage's
    plain matrix product (cached with it: eager backends would rebuild it at every call)."""
    stage = _dft_stage_matrix(positions, length, count, real_input, float_dtype)
    return np.ascontiguousarray(np.transpose(stage, (2, 3, 0, 1)).reshape(2 * count, -1))


def dft_kernel_planes(kernel, positions, lengths, working, transposed=False, order=None, half=True):
    """The kernel's spectrum as in `dft_kernel_spectrum`, in real arithmetic: real and imaginary planes
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
        positions_key = tuple(int(p) for p in positions[axis])
        stage = _dft_stage_matrix(positions_key, length, count, real_input, working)
        if i == len(stages) - 1:
            # (q f, p t) @ (p t, rest): the output planes and frequencies lead, nothing moves.
            matrix = _dft_last_stage_matrix(positions_key, length, count, real_input, working)
            rest = tuple(planes.shape[1 if real_input else 2 :])
            flat = ops.reshape(planes, (matrix.shape[1], -1))
            planes = get_backend().einsum("ab,bc->ac", get_backend().constant_like(matrix, flat), flat)
            return ops.reshape(planes, (2, count, *rest))
        result = current.replace(taps[axis], "")
        result = "q" + result.replace("xy", "xy" + frequencies[axis])
        if real_input:
            pattern = f"{current},{taps[axis]}q{frequencies[axis]}->{result}"
            stage = stage[0]
        else:
            pattern = f"p{current},p{taps[axis]}q{frequencies[axis]}->{result}"
        planes = get_backend().einsum(pattern, planes, get_backend().constant_like(stage, planes))
        current = result[1:]


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
