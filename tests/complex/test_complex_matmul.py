"""`complex_matmul` in half precision against NumPy's complex128 product, at every rank of `x` (TensorFlow's
oneDNN kernels, its default on CPUs with AVX-512, computed einsum's "...n,nm->...m" wrongly in float16 beyond
the first row; `make test` runs this file with oneDNN on too)."""

import numpy as np
import pytest
from complex.complex_helpers import as_pair, random_complex, to_complex_numpy

from structconv import ops as sops

# The tolerance of each dtype relative to the largest entry (a sum of 8 products of unit-scale entries).
TOLERANCE = {"float16": 1e-2, "bfloat16": 6e-2}


@pytest.mark.parametrize("dtype", sorted(TOLERANCE))
@pytest.mark.parametrize("shape", [(8,), (1, 8), (7, 8), (3, 5, 8), (2, 3, 4, 8)], ids=str)
def test_complex_matmul_in_half_precision(shape, dtype):
    rng = np.random.default_rng(len(shape))
    x, kernel = random_complex(rng, shape), random_complex(rng, (8, 6))
    expected = x @ kernel
    found = to_complex_numpy(sops.complex_matmul(as_pair(x, dtype), as_pair(kernel, dtype)))
    assert found.shape == expected.shape
    np.testing.assert_allclose(found, expected, rtol=0, atol=TOLERANCE[dtype] * np.abs(expected).max())
