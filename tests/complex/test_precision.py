"""float32 precision when the parts differ in scale: imaginary parts 1e-4 of the real parts.

Inputs and kernels are `re + 1e-4j * im` with `re`, `im` standard normal, so the output's real part is
O(1) and its imaginary part O(1e-4). Each part's error is measured against a float64 reference computed
from the same float32 values, relative to that part's own largest magnitude.

"naive" and "block" ("auto") compute each part as a sum of products of the right scale, so both parts stay
at float32 rounding. "gauss" gets the imaginary part as `(a + b) * (c + d) - a*c - b*d`: three O(1) terms
whose rounding errors (about 1e-7 of O(1)) survive the cancellation down to O(1e-4), i.e. a relative error
around 1e-3 on the imaginary part.
"""

import numpy as np
import pytest
from complex.complex_helpers import (
    as_complex_tensor,
    as_pair,
    compiled,
    complex_conv_reference,
    part_errors,
    random_complex,
)

from structconv import ops as sops

SCALE = 1e-4
ACCURATE = ("auto", "block", "naive")
ALGORITHMS = ("direct", "fft")


@pytest.fixture(scope="module")
def operands():
    rng = np.random.default_rng(0)
    x = random_complex(rng, (2, 16, 16, 8), SCALE).astype(np.complex64)
    k = (random_complex(rng, (5, 5, 8, 8), SCALE) / np.sqrt(5 * 5 * 8)).astype(np.complex64)
    expected = complex_conv_reference(x, k, padding="same")
    # the premise: the imaginary part of the output is ~1e-4 of the real part
    ratio = np.abs(expected.imag).max() / np.abs(expected.real).max()
    assert 0.3 * SCALE < ratio < 3 * SCALE, ratio
    return x, k, expected


@pytest.fixture(scope="module")
def errors(operands):
    """{(method, algorithm, form): (real part error, imaginary part error)}."""
    x, k, expected = operands
    results = {}
    for algorithm in ALGORITHMS:
        for method in (*ACCURATE, "gauss"):
            def run(x, k, method=method, algorithm=algorithm):
                return sops.complex_conv(x, k, padding="same", method=method, algorithm=algorithm)

            function = compiled(run)
            results[method, algorithm, "pair"] = part_errors(
                function(as_pair(x, "float32"), as_pair(k, "float32")), expected)
            if algorithm == "direct":
                results[method, algorithm, "complex"] = part_errors(
                    function(as_complex_tensor(x), as_complex_tensor(k)), expected)
    return results


@pytest.mark.parametrize("method", ACCURATE)
def test_accurate_methods_keep_both_parts_at_float32_rounding(errors, method):
    for (name, algorithm, form), (real, imag) in errors.items():
        if name == method:
            assert real < 1e-5 and imag < 1e-5, (method, algorithm, form, real, imag)


def test_gauss_loses_precision_on_the_small_part(errors):
    """The real part stays accurate; the imaginary part's error is far above the accurate methods'."""
    for (name, algorithm, form), (real, imag) in errors.items():
        if name != "gauss":
            continue
        best = max(errors["naive", algorithm, form][1], errors["block", algorithm, form][1])
        assert real < 1e-5, (algorithm, form, real)
        assert imag > 1e-4, (algorithm, form, imag)
        assert imag > 20 * best, (algorithm, form, imag, best)
