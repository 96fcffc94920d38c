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


@functools.lru_cache(maxsize=4096)
def fast_length(n):
    """The smallest length >= `n` whose only prime factors are 2, 3, 5 and 7 (fast for every FFT library).

    >>> [fast_length(n) for n in (7, 11, 97, 1000)]
    [7, 12, 98, 1000]
    """
    n = int(n)
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
    """FFT lengths of the FFT convolution per spatial axis, for input sizes `sizes` and dilated kernel
    `extents`.

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
    return tuple(
        fast_length(max(n + max(before, after), e)) for n, e, (before, after) in zip(sizes, extents, padding)
    )


def transpose_fft_lengths(sizes, extents, strides):
    """FFT lengths of the full transposed convolution: `(n - 1) * s + extent` per axis."""
    return tuple(fast_length((n - 1) * s + e) for n, e, s in zip(sizes, extents, strides))


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


def geometries(sizes, extents, padding, padding_mode):
    """Every way to cut the FFT convolution: `(geometry, lengths, steps, counts)` for the whole input
    (`"whole"`) and for each factor of `BLOCK_FACTORS` that cuts at least one axis into blocks (an axis
    shorter than two blocks stays whole)."""
    whole = conv_fft_lengths(sizes, extents, padding, padding_mode)
    outputs = tuple(n + before + after - e + 1 for n, e, (before, after) in zip(sizes, extents, padding))
    yield "whole", whole, outputs, (1,) * len(sizes)
    padded = [n + before + after for n, (before, after) in zip(sizes, padding)]
    for factor in BLOCK_FACTORS:
        lengths, steps, counts = [], [], []
        for n, e in zip(padded, extents):
            block = fast_length(factor * e)
            if 2 * block > n:  # a single block: the whole (padded) axis
                block, step, count = fast_length(n), n - e + 1, 1
            else:
                step = block - e + 1
                count = -(-(n - e + 1) // step)
            lengths.append(block)
            steps.append(step)
            counts.append(count)
        if max(counts) > 1:
            yield factor, tuple(lengths), tuple(steps), tuple(counts)
