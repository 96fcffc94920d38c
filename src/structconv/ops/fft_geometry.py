"""FFT lengths and overlap-save geometries of one convolution: pure Python over static sizes.

The planner (`ops.planner`), the cost model (`ops.cost_model`) and the executor (`ops.fft_conv`) all count
with these functions, so what is modelled is what runs.
"""

import functools
import math

# Overlap-save block lengths tried per axis: `fast_length(factor * extent)`. Short blocks make the kernel's
# spectrum (`in * out` of them) small and the FFTs cache-resident, at the price of `extent - 1` samples of
# overlap per block; the planner picks the factor (or the whole input) per convolution.
BLOCK_FACTORS = (2, 4, 8, 16)


@functools.lru_cache(maxsize=8192)
def fast_length(n, odd_weight=0.0):
    """The length >= `n` whose only prime factors are 2, 3, 5 and 7 that the FFT transforms fastest: the
    smallest such length, or, with `odd_weight` (`Strategy.fft_odd_length_weight`, measured by
    `tuning.fft_lengths`), the one up to the next power of two of least `length_cost`: torch's real FFT
    (Intel MKL) ran odd lengths 2-4x slower per flop than powers of two.

    >>> [fast_length(n) for n in (7, 11, 97, 1000, 2161)]
    [7, 12, 98, 1000, 2187]
    >>> [fast_length(n, 0.47) for n in (43, 243, 2161)]  # 45, 243 and 2187 are odd
    [48, 250, 2240]
    """
    n = int(n)
    return cheapest_length(smooth_lengths(n, 1 << max(n - 1, 0).bit_length()), odd_weight)


def cheapest_length(fitting, odd_weight):
    """Of the ascending lengths `fitting`, the smallest without `odd_weight`, else the one of least
    `length_cost` (the smaller where two tie)."""
    if not odd_weight:
        return fitting[0]
    return min(fitting, key=lambda m: (length_cost(m, odd_weight), m))


def smooth_lengths(low, high):
    """The lengths in `[low, high]` whose only prime factors are 2, 3, 5 and 7, ascending."""
    found, f7 = [], 1
    while f7 <= high:
        f5 = f7
        while f5 <= high:
            f3 = f5
            while f3 <= high:
                length = f3
                while length <= high:
                    if length >= low:
                        found.append(length)
                    length *= 2
                f3 *= 3
            f5 *= 5
        f7 *= 7
    return sorted(found)


def length_cost(m, odd_weight):
    """The relative time of a real FFT of length `m`: `m * log2(m)`, times `exp(odd_weight)` where `m` is
    odd."""
    return m * math.log2(max(m, 2)) * math.exp(odd_weight * (m % 2))


def last_weighted(lengths, odd_weight):
    """Per axis, `fast_length` of `lengths`, the last axis's (the real FFT's, `spectrum_size`) by
    `odd_weight`: the other axes' complex transforms ran as fast at odd lengths (torch, 40^3 k=7: 45^3
    against 45^2 x 48, 3.3 ms either way)."""
    return tuple(fast_length(n, odd_weight if axis == len(lengths) - 1 else 0.0)
                 for axis, n in enumerate(lengths))


def conv_fft_lengths(sizes, extents, padding, padding_mode="zeros", odd_weight=0.0):
    """FFT lengths of the FFT convolution per spatial axis, for input sizes `sizes` and dilated kernel
    `extents` (the last axis's by `odd_weight`, `last_weighted`).

    Zero padding is not materialised (see `ops.fft_conv`): `L >= n + max(before, after)` and
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
    needed = [max(n + max(before, after), e) for n, e, (before, after) in zip(sizes, extents, padding)]
    return last_weighted(needed, odd_weight)


def transpose_fft_lengths(sizes, extents, strides, odd_weight=0.0):
    """FFT lengths of the full transposed convolution: `(n - 1) * s + extent` per axis (the last axis's by
    `odd_weight`, `last_weighted`)."""
    return last_weighted([(n - 1) * s + e for n, e, s in zip(sizes, extents, strides)], odd_weight)


def spectrum_size(lengths):
    """Complex points of a real N-D spectrum: the last axis holds `L // 2 + 1` frequencies."""
    return math.prod(lengths[:-1]) * (lengths[-1] // 2 + 1)


def dft_multiply_adds(kernel_size, lengths, half=True):
    """Complex multiply-adds per (input, output) channel pair of the kernel's spectrum by DFT matrices,
    contracting the last spatial axis first (taps to `L // 2 + 1` frequencies, or all `L` when not `half`:
    the spectrum of packed pairs), then the others."""
    frequencies = [*lengths[:-1], lengths[-1] // 2 + 1 if half else lengths[-1]]
    total = 0
    for axis in reversed(range(len(lengths))):
        total += (math.prod(kernel_size[: axis + 1]) * frequencies[axis]
                  * math.prod(frequencies[axis + 1 :]))
    return total


def geometries(sizes, extents, padding, padding_mode, odd_weight=0.0):
    """Every way to cut the FFT convolution: `(geometry, lengths, steps, counts)` for the whole input
    (`"whole"`) and for each factor of `BLOCK_FACTORS` that cuts at least one axis into blocks (an axis
    shorter than two blocks stays whole); the last axis's lengths by `odd_weight` (`last_weighted`)."""
    whole = conv_fft_lengths(sizes, extents, padding, padding_mode, odd_weight)
    outputs = tuple(n + before + after - e + 1 for n, e, (before, after) in zip(sizes, extents, padding))
    yield "whole", whole, outputs, (1,) * len(sizes)
    padded = [n + before + after for n, (before, after) in zip(sizes, padding)]
    last = len(sizes) - 1
    for factor in BLOCK_FACTORS:
        lengths, steps, counts = [], [], []
        for axis, (n, e) in enumerate(zip(padded, extents)):
            axis_weight = odd_weight if axis == last else 0.0
            block = fast_length(factor * e, axis_weight)
            if 2 * block > n:  # a single block: the whole (padded) axis
                block, step, count = fast_length(n, axis_weight), n - e + 1, 1
            else:
                step = block - e + 1
                count = -(-(n - e + 1) // step)
            lengths.append(block)
            steps.append(step)
            counts.append(count)
        if max(counts) > 1:
            yield factor, tuple(lengths), tuple(steps), tuple(counts)
