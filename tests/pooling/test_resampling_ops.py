"""`upsample`, `zero_pad` and `crop` against the NumPy reference, ranks 1-5, both data formats."""

import numpy as np
import pytest
from conftest import assert_close, compiled, tensor
from pooling.pooling_reference import crop_reference, pad_reference, upsample_reference

from structconv import ops as sops

SPATIAL = {1: (5,), 2: (3, 4), 3: (3, 2, 4), 4: (2, 3, 2, 3), 5: (2, 2, 3, 1, 2)}
SIZES = {1: 3, 2: (2, 3), 3: (1, 2, 3), 4: (2, 1, 3, 2), 5: (3, 2, 1, 2, 2)}
PAIRS = {
    1: ((1, 2),),
    2: ((0, 1), (2, 0)),
    3: ((1, 1), (0, 0), (2, 1)),
    4: ((1, 0), (0, 1), (1, 0), (0, 1)),
    5: ((0, 1), (1, 0), (1, 1), (0, 0), (1, 0)),
}


def _input(rank, data_format):
    x = np.random.default_rng(rank).standard_normal((2, *SPATIAL[rank], 3))
    return np.moveaxis(x, -1, 1) if data_format == "channels_first" else x


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("interpolation", ["nearest", "linear"])
@pytest.mark.parametrize("rank", [1, 2, 3, 4, 5])
def test_upsample_matches_numpy(rank, interpolation, data_format):
    x = _input(rank, data_format)
    expected = upsample_reference(x, SIZES[rank], interpolation, data_format)
    for dtype in ("float32", "float64"):
        y = compiled(lambda t: sops.upsample(t, SIZES[rank], data_format, interpolation))(tensor(x, dtype))
        assert_close(y, expected, dtype)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("rank", [1, 2, 3, 4, 5])
def test_zero_pad_and_crop_match_numpy(rank, data_format):
    x = _input(rank, data_format)
    pairs = PAIRS[rank]
    assert_close(sops.zero_pad(tensor(x), pairs, data_format), pad_reference(x, pairs, data_format))
    padded = pad_reference(x, pairs, data_format)
    assert_close(sops.crop(tensor(padded), pairs, data_format), x)
    assert_close(sops.crop(tensor(padded), pairs, data_format), crop_reference(padded, pairs, data_format))


@pytest.mark.parametrize(
    "padding, expected",
    [(1, ((1, 1),) * 3), ((1, 0, 2), ((1, 1), (0, 0), (2, 2))), ((1, (0, 2), 0), ((1, 1), (0, 2), (0, 0)))],
)
def test_padding_forms(padding, expected):
    x = _input(3, "channels_last")
    assert_close(sops.zero_pad(tensor(x), padding), pad_reference(x, expected))
