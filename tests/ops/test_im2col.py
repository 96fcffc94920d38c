"""`direct:im2col`: torch's own CPU convolution bypassing oneDNN (`_backend.torch_conv.conv_im2col`, by ATen's
`thnn_conv2d` and `slow_conv_dilated2d`) computes the same convolution and gradients, 1-D (as 2-D of height
1) and 2-D, for strides, dilation, each padding form and mode and both data formats. The planner offers it
on torch only (`tests/tuning/test_im2col_candidate.py`); the other backends define it to raise."""

import keras
import numpy as np
import pytest
from conftest import assert_direct_plan_matches_reference

from structconv._backend import get_backend

BACKEND = keras.backend.backend()
CASES = [  # (spatial, kernel size, strides, dilation, padding, padding mode, data format)
    ((23,), (5,), 1, 1, "same", "zeros", "channels_last"),
    ((24,), (4,), 2, 1, "valid", "zeros", "channels_first"),
    ((25,), (3,), 1, 3, ((4, 1),), "zeros", "channels_last"),  # dilated, uneven padding
    ((22,), (6,), 3, 2, "same", "reflect", "channels_first"),  # strided and dilated
    ((9, 8), (3, 2), 1, 1, "same", "zeros", "channels_last"),
    ((10, 9), (3, 3), (2, 1), 1, "valid", "zeros", "channels_first"),
    ((11, 10), (3, 2), 1, (2, 3), ((2, 1), (0, 3)), "zeros", "channels_last"),
    ((9, 9), (3, 3), (2, 2), (1, 2), "same", "circular", "channels_first"),
]


@pytest.mark.skipif(BACKEND != "torch", reason="torch's own convolution; not a candidate elsewhere")
@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case[0]}-k{case[1]}-{case[4]}-{case[5]}")
def test_im2col_computes_the_same_convolution_and_gradients(case):
    spatial, kernel_size, strides, dilation, padding, mode, data_format = case
    rng = np.random.default_rng(sum(spatial) * 3 + sum(kernel_size))
    shape = (2, *spatial, 3) if data_format == "channels_last" else (2, 3, *spatial)
    x = rng.standard_normal(shape)
    k = rng.standard_normal((*kernel_size, 3, 2))
    assert_direct_plan_matches_reference("im2col", x, k, strides, rng, padding=padding, dilation=dilation,
                                         data_format=data_format, padding_mode=mode)


@pytest.mark.skipif(BACKEND == "torch", reason="torch runs it (the test above)")
def test_other_backends_never_run_it():
    backend = get_backend()
    assert not backend.im2col_helps(1, "channels_last", 2, 2, 1, "float32", "cpu", 1000)
    with pytest.raises(NotImplementedError, match="PyTorch candidate only"):
        backend.conv_im2col(None, None, (1,), ((0, 0),), (1,), "channels_last")


@pytest.mark.skipif(BACKEND != "torch", reason="torch's own convolution; not a candidate elsewhere")
@pytest.mark.parametrize("grouping", ["split", "dense"])
def test_im2col_runs_the_ungrouped_parts_of_a_grouped_convolution(grouping):
    # The planner offers `direct:im2col:split` and `:dense` for a grouped torch problem whose ungrouped
    # parts qualify (`ops.grouping`).
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 19, 4))
    k = rng.standard_normal((5, 2, 6))  # 2 groups of 2 -> 3
    assert_direct_plan_matches_reference("im2col", x, k, 1, rng, groups=2, grouping=grouping)
