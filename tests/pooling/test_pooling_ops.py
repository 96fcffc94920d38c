"""`max_pool`, `avg_pool` and the global pools against the NumPy reference, ranks 1-5, both data formats.

The sweeps run each op as one compiled program on JAX (`compiled`: eagerly, each primitive compiles on
its own, 3x the time); the global pools, the layers' Keras comparisons and the gradients run eagerly."""

import numpy as np
import pytest
from conftest import assert_close, compiled, tensor
from pooling.pooling_reference import global_pool_reference, pool_reference

from structconv import ops as sops

# (spatial shape, pool_size, strides): overlapping, gapped, uneven and size-1 windows.
CASES = [
    ((7,), 3, 2),
    ((6, 5), (2, 3), None),
    ((5, 6, 4), (3, 2, 2), (1, 2, 3)),
    ((5, 4, 6, 5), (2, 3, 2, 3), (2, 1, 3, 2)),
    ((4, 5, 3, 4, 5), (2, 2, 1, 3, 2), (1, 2, 1, 2, 3)),
    ((6, 3, 5, 4, 3), 2, None),
]
IDS = [f"rank{len(case[0])}_{i}" for i, case in enumerate(CASES)]


def _input(rng, spatial, data_format, channels=3):
    x = rng.standard_normal((2, *spatial, channels))
    return np.moveaxis(x, -1, 1) if data_format == "channels_first" else x


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_pool_matches_numpy(case, mode, padding, data_format):
    spatial, pool_size, strides = case
    x = _input(np.random.default_rng(len(spatial)), spatial, data_format)
    op = sops.max_pool if mode == "max" else sops.avg_pool
    expected = pool_reference(x, pool_size, strides, padding, mode, data_format)
    for dtype in ("float32", "float64"):
        y = compiled(lambda t: op(t, pool_size, strides, padding, data_format))(tensor(x, dtype))
        assert_close(y, expected, dtype)


@pytest.mark.parametrize("rank", [1, 3, 4, 5])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_global_pools_match_numpy(rank, keepdims, data_format):
    x = _input(np.random.default_rng(rank), (3, 2, 4, 2, 3)[:rank], data_format)
    for mode, op in (("max", sops.global_max_pool), ("average", sops.global_avg_pool)):
        expected = global_pool_reference(x, mode, data_format, keepdims)
        assert_close(op(tensor(x), data_format, keepdims), expected)


def test_average_pool_is_keras_name():
    assert sops.average_pool is sops.avg_pool


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_exported_form_matches_numpy(case, mode, monkeypatch):
    # What an exported graph runs (`ops.tracing.exporting`): the max / mean of strided slices per axis.
    from structconv.ops import pooling

    monkeypatch.setattr(pooling, "exporting", lambda shape: True)
    spatial, pool_size, strides = case
    x = _input(np.random.default_rng(len(spatial)), spatial, "channels_first")
    op = sops.max_pool if mode == "max" else sops.avg_pool
    for padding in ("valid", "same"):
        expected = pool_reference(x, pool_size, strides, padding, mode, "channels_first")
        pool = compiled(lambda t, p=padding: op(t, pool_size, strides, p, "channels_first"))
        y = pool(tensor(x, "float64"))
        assert_close(y, expected, "float64")
