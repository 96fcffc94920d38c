"""`ComplexInitializer`: Rayleigh modulus, uniform phase, and the variance of its criterion.

Checked on one large kernel, `(5, 5, 16, 48)` complex weights (19,200 samples; fan_in 400, fan_out 1200,
so "glorot" and "he" differ by a factor of 4), with tolerances of about 5 standard errors.
"""

import math

import numpy as np
import pytest
from complex.complex_helpers import to_numpy

from structconv import layers
from structconv.initializers import ComplexInitializer

SHAPE = (5, 5, 16, 48, 2)
FAN_IN, FAN_OUT = 25 * 16, 25 * 48
VARIANCE = {"glorot": 2 / (FAN_IN + FAN_OUT), "he": 2 / FAN_IN}


@pytest.fixture(scope="module", params=sorted(VARIANCE))
def sample(request):
    view = to_numpy(ComplexInitializer(request.param, seed=7)(SHAPE)).astype(np.float64)
    assert view.shape == SHAPE
    return request.param, view[..., 0] + 1j * view[..., 1]


def test_variance_matches_the_criterion(sample):
    criterion, w = sample
    n = w.size
    variance = np.mean(np.abs(w) ** 2)  # E|w|^2 (the mean is 0 by the uniform phase)
    # |w|^2 is exponential: its standard deviation equals its mean, the relative standard error is 1/sqrt(n)
    assert abs(variance / VARIANCE[criterion] - 1) < 5 / math.sqrt(n), (criterion, variance)
    assert abs(np.mean(w)) < 5 * math.sqrt(VARIANCE[criterion] / n)


def test_modulus_is_rayleigh(sample):
    from scipy import stats

    criterion, w = sample
    sigma = math.sqrt(VARIANCE[criterion] / 2)
    modulus = np.abs(w).ravel()
    n = modulus.size
    # mean sigma sqrt(pi / 2), standard deviation sigma sqrt((4 - pi) / 2)
    mean_error = 5 * sigma * math.sqrt((4 - math.pi) / 2) / math.sqrt(n)
    assert abs(modulus.mean() - sigma * math.sqrt(math.pi / 2)) < mean_error
    assert stats.kstest(modulus, stats.rayleigh(scale=sigma).cdf).pvalue > 1e-3
    # the real and imaginary parts are then independent normals of variance sigma^2
    assert stats.kstest(w.real.ravel() / sigma, "norm").pvalue > 1e-3
    assert abs(np.corrcoef(w.real.ravel(), w.imag.ravel())[0, 1]) < 5 / math.sqrt(n)


def test_phase_is_uniform(sample):
    from scipy import stats

    _, w = sample
    phase = np.angle(w).ravel()
    assert stats.kstest(phase, stats.uniform(loc=-math.pi, scale=2 * math.pi).cdf).pvalue > 1e-3
    counts = np.histogram(phase, bins=16, range=(-math.pi, math.pi))[0]
    assert stats.chisquare(counts).pvalue > 1e-3
    # no correlation between modulus and phase
    assert abs(np.corrcoef(np.abs(w).ravel(), phase)[0, 1]) < 5 / math.sqrt(w.size)


def test_seed_and_config():
    first = to_numpy(ComplexInitializer("he", seed=3)((3, 3, 2, 2, 2)))
    again = to_numpy(ComplexInitializer("he", seed=3)((3, 3, 2, 2, 2)))
    np.testing.assert_array_equal(first, again)
    config = ComplexInitializer("he", seed=3).get_config()
    assert config == {"criterion": "he", "seed": 3}
    np.testing.assert_array_equal(to_numpy(ComplexInitializer.from_config(config)((3, 3, 2, 2, 2))), first)


def test_layer_defaults_to_complex_glorot():
    layer = layers.ComplexConv2D(48, 5)
    assert isinstance(layer.kernel_initializer, ComplexInitializer)
    assert layer.kernel_initializer.criterion == "glorot"
    he = layers.ComplexConv2D(48, 5, kernel_initializer="complex_he")
    assert he.kernel_initializer.criterion == "he"
    layer.build((1, 8, 8, 16))
    real, imag = (to_numpy(part).astype(np.float64) for part in layer.kernel)
    assert real.shape == (5, 5, 16, 48)
    variance = np.mean(real**2 + imag**2)
    assert abs(variance / VARIANCE["glorot"] - 1) < 5 / math.sqrt(real.size)
