"""Gradients of the pooling and resampling ops (float64): the backend's autodiff against central finite
differences of the NumPy reference, entry by entry, and one-element-per-window routing of max pooling."""

import keras
import numpy as np
import pytest
import reference
from conftest import autodiff_gradients, tensor
from pooling.pooling_reference import crop_reference, pad_reference, pool_reference, upsample_reference

from structconv import ops as sops

EPS = 1e-6

CASES = [
    # (op, reference, spatial, arguments)
    ("max", (5, 4, 3, 4), {"pool_size": (2, 3, 2, 2), "strides": (1, 2, 1, 2), "padding": "same"}),
    ("max", (3, 3, 2, 3, 2), {"pool_size": 2, "strides": 1, "padding": "valid"}),
    ("average", (5, 4, 3, 4), {"pool_size": (3, 2, 2, 3), "strides": (2, 1, 2, 2), "padding": "same"}),
    ("average", (3, 2, 3, 2, 3), {"pool_size": 2, "strides": (1, 2, 1, 1, 2), "padding": "valid"}),
    ("max", (6, 5), {"pool_size": 3, "strides": 2, "padding": "same"}),
    ("average", (7,), {"pool_size": 4, "strides": 1, "padding": "same"}),
]


def _check(library, numpy_function, x):
    cotangent = np.random.default_rng(1).standard_normal(numpy_function(x).shape)

    def loss(t):
        return keras.ops.sum(library(t) * tensor(cotangent, "float64"))

    (gradient,) = autodiff_gradients(loss, x)
    expected = reference.numerical_gradient(lambda v: np.sum(numpy_function(v) * cotangent), x, EPS)
    np.testing.assert_allclose(gradient, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("mode, spatial, arguments", CASES, ids=[f"{c[0]}{len(c[1])}_{i}" for i, c in
                                                                enumerate(CASES)])
def test_pool_gradient(mode, spatial, arguments, data_format):
    # Distinct values a grid step apart: no ties, so the max is differentiable at x.
    rng = np.random.default_rng(len(spatial))
    size = 2 * int(np.prod(spatial)) * 2
    x = (rng.permutation(size) * 0.01).reshape((2, *spatial, 2))
    if data_format == "channels_first":
        x = np.moveaxis(x, -1, 1)
    op = sops.max_pool if mode == "max" else sops.avg_pool
    _check(
        lambda t: op(t, data_format=data_format, **arguments),
        lambda v: pool_reference(v, mode=mode, data_format=data_format, **arguments),
        x,
    )


@pytest.mark.parametrize("interpolation", ["nearest", "linear"])
def test_upsample_gradient(interpolation):
    x = np.random.default_rng(0).standard_normal((1, 3, 2, 2, 3, 2))
    _check(
        lambda t: sops.upsample(t, (2, 3, 1, 2), interpolation=interpolation),
        lambda v: upsample_reference(v, (2, 3, 1, 2), interpolation),
        x,
    )


def test_pad_and_crop_gradients():
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 2, 3, 2))
    pairs = ((1, 0), (0, 2), (1, 1), (0, 0))
    _check(lambda t: sops.zero_pad(t, pairs), lambda v: pad_reference(v, pairs), x)
    cut = ((1, 0), (0, 1), (0, 1), (1, 1))
    _check(lambda t: sops.crop(t, cut), lambda v: crop_reference(v, cut), x)


@pytest.mark.parametrize("rank", [2, 3, 4, 5])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_pool_gradient_goes_to_one_element_per_window(rank, dtype):
    # A constant input ties every entry of every window; the frameworks' pooling gives the whole gradient
    # to one of them, and so must the decomposition (a split between ties would spread fractions).
    x = np.zeros((2, *(4,) * rank, 3))

    def loss(t):
        return keras.ops.sum(sops.max_pool(keras.ops.cast(t, dtype), 2))

    (gradient,) = autodiff_gradients(loss, x)
    windows = 2 * 2 ** rank * 3
    assert np.count_nonzero(gradient) == windows
    np.testing.assert_array_equal(np.unique(gradient), [0.0, 1.0])
    blocks = gradient.reshape(2, *[v for _ in range(rank) for v in (2, 2)], 3)
    per_window = blocks.sum(axis=tuple(range(2, 2 * rank + 1, 2)))
    np.testing.assert_array_equal(per_window, np.ones_like(per_window))
