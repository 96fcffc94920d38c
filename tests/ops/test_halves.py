"""`ops.halves`: a convolution (or a full transposed one) of a batch of one as two halves stacked along the
batch computes the same convolution and gradients, for every split (odd and even counts, strides,
dilation, each padding form and mode, both data formats), forced on every backend (the executor is written in
`keras.ops`; the planner offers it on torch only, `tests/tuning/test_halves_candidate.py`)."""

import numpy as np
import pytest
from conftest import assert_direct_plan_matches_reference

from structconv.shapes.arithmetic import halves_of_axis

CASES = [  # (spatial, kernel size, strides, dilation, padding, padding mode, data format)
    ((6, 5, 4), (3, 3, 2), 1, 1, "same", "zeros", "channels_last"),
    ((7, 5, 4), (3, 2, 3), 1, 1, "valid", "zeros", "channels_last"),  # 5 outputs: halves of 3 and 2
    ((9, 4, 5), (2, 3, 3), (2, 1, 1), 1, "valid", "zeros", "channels_first"),  # the tail runs past the input
    ((8, 5, 5), (3, 3, 3), 1, (2, 1, 1), ((2, 1), (1, 1), (0, 2)), "zeros", "channels_last"),
    ((7, 6, 4), (3, 3, 3), (2, 2, 1), 1, "same", "reflect", "channels_first"),
    ((5, 4, 4), (1, 3, 3), 1, 1, "same", "circular", "channels_last"),  # one tap along the split axis
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case[0]}-k{case[1]}-{case[4]}-{case[5]}")
def test_halves_compute_the_same_convolution_and_gradients(case):
    spatial, kernel_size, strides, dilation, padding, mode, data_format = case
    rng = np.random.default_rng(sum(spatial) + sum(kernel_size))
    shape = (1, *spatial, 2) if data_format == "channels_last" else (1, 2, *spatial)
    x = rng.standard_normal(shape)
    k = rng.standard_normal((*kernel_size, 2, 3))
    assert_direct_plan_matches_reference("halves", x, k, strides, rng, padding=padding, dilation=dilation,
                                         data_format=data_format, padding_mode=mode)


TRANSPOSED_CASES = [  # (spatial, kernel size, strides, dilation, data format)
    ((4, 3, 3), (2, 2, 2), 2, 1, "channels_last"),  # halves of 2 and 2, side by side
    ((5, 3, 4), (3, 3, 2), 2, 1, "channels_first"),  # 3 and 2 (the tail padded), overlapping by one row
    ((3, 4, 3), (3, 2, 3), 1, (2, 1, 1), "channels_last"),  # overlapping by three rows
]


@pytest.mark.parametrize("case", TRANSPOSED_CASES, ids=lambda case: f"{case[0]}-k{case[1]}-s{case[2]}")
def test_halves_compute_the_same_transposed_convolution_and_gradients(case):
    spatial, kernel_size, strides, dilation, data_format = case
    rng = np.random.default_rng(sum(spatial) * 7 + sum(kernel_size))
    shape = (1, *spatial, 2) if data_format == "channels_last" else (1, 2, *spatial)
    y = rng.standard_normal(shape)
    k = rng.standard_normal((*kernel_size, 3, 2))  # (*k, filters, channels) of a transposed kernel
    assert_direct_plan_matches_reference("halves", y, k, strides, rng, transposed=True, dilation=dilation,
                                         data_format=data_format)


@pytest.mark.parametrize("outputs", range(2, 12))
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("extent", [1, 3, 5])
def test_the_halves_cover_every_output_once_from_windows_of_one_length(outputs, stride, extent):
    first, window, offset = halves_of_axis(outputs, stride, extent)
    padded = (outputs - 1) * stride + extent  # the least input with `outputs` outputs
    reads = [range(i * stride, i * stride + extent) for i in range(outputs)]
    head = reads[:first]
    tail = [range(r.start - offset, r.stop - offset) for r in reads[first:]]
    # Each half's i-th output reads what the whole convolution's does, inside its window.
    assert all(r.stop <= window for r in head + tail) and all(r.start >= 0 for r in tail)
    assert [r.start for r in tail] == [i * stride for i in range(outputs - first)]
    assert 0 <= outputs - first <= first and offset + window - padded <= stride
