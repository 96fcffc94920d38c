"""FFT lengths: the smallest product of 2, 3, 5 and 7, or, weighing odd lengths on the real transform's
axis (`Strategy.fft_odd_length_weight`), the cheapest one: checked against brute force; geometries at such
lengths."""

import math

import pytest

from structconv.ops import fft_geometry
from structconv.ops.fft_geometry import fast_length, geometries, smooth_lengths

WEIGHT = 0.73  # torch's shipped one


def _is_smooth(m):
    for p in (2, 3, 5, 7):
        while m % p == 0:
            m //= p
    return m == 1


def test_smooth_lengths_are_every_product_of_2_3_5_and_7_in_the_range():
    assert smooth_lengths(1, 2000) == [m for m in range(1, 2001) if _is_smooth(m)]
    assert smooth_lengths(243, 256) == [243, 245, 250, 252, 256]


@pytest.mark.parametrize("weight", [0.0, WEIGHT, 0.05, 3.0])
def test_fast_length_is_the_smallest_or_the_cheapest_up_to_the_next_power_of_two(weight):
    for n in range(1, 3000):
        bound = 1 << max(n - 1, 0).bit_length()
        fitting = [m for m in range(n, bound + 1) if _is_smooth(m)]
        expected = min(fitting) if not weight else min(
            fitting, key=lambda m: (m * math.log2(max(m, 2)) * math.exp(weight * (m % 2)), m))
        assert fast_length(n, weight) == expected, n
        if weight >= WEIGHT and n > 1:
            assert expected % 2 == 0  # there is always an even length near enough


def test_the_weight_avoids_odd_lengths_on_the_last_axis_only():
    sizes, extents, padding = (40, 40, 40), (7, 7, 7), ((3, 3),) * 3
    assert fft_geometry.conv_fft_lengths(sizes, extents, padding) == (45, 45, 45)
    assert fft_geometry.conv_fft_lengths(sizes, extents, padding, odd_weight=WEIGHT) == (45, 45, 48)
    assert fft_geometry.transpose_fft_lengths((30, 40), (5, 4), (2, 1), WEIGHT) == (63, 48)


@pytest.mark.parametrize("weight", [0.0, WEIGHT])
def test_every_geometry_covers_the_outputs_with_blocks_of_its_lengths(weight):
    sizes, extents, padding = (300, 37, 1000), (9, 5, 31), ((4, 4), (0, 0), (15, 15))
    outputs = tuple(n + b + a - e + 1 for n, e, (b, a) in zip(sizes, extents, padding))
    found = list(geometries(sizes, extents, padding, "zeros", weight))
    assert found[0] == ("whole", fft_geometry.conv_fft_lengths(sizes, extents, padding, "zeros", weight),
                        outputs, (1, 1, 1))
    assert len(found) > 2
    for _, lengths, steps, counts in found[1:]:
        for axis, (length, step, count, e, out) in enumerate(zip(lengths, steps, counts, extents, outputs)):
            assert step == length - e + 1 if count > 1 else step == out
            assert count * step >= out and (count - 1) * step < out
            assert _is_smooth(length) and (not weight or axis < 2 or length % 2 == 0)
