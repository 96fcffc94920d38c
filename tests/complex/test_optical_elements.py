"""`ThinLens` and `Aperture` (ops and layers) against NumPy transmissions written from the formulas, and a
lens's physics: one focal length behind a thin lens, a Gaussian beam of waist `w0` at the lens has the
width `wavelength * f / (pi * w0)` (the back focal plane holds the Fourier transform of the front one;
Gaussian-beam optics' ABCD law gives the same)."""

import numpy as np
import pytest
from complex.complex_helpers import as_complex_tensor, as_pair, random_complex, to_complex_numpy

from structconv import layers
from structconv import ops as sops
from structconv.errors import StructconvError


def _grid(n, m, pitch):
    dy, dx = pitch if isinstance(pitch, tuple) else (pitch, pitch)
    y = (np.arange(n) - (n - 1) / 2) * dy
    x = (np.arange(m) - (m - 1) / 2) * dx
    return np.meshgrid(y, x, indexing="ij")


@pytest.mark.parametrize("data_format", ("channels_last", "channels_first"))
def test_thin_lens_against_numpy(data_format):
    z = random_complex(np.random.default_rng(0), (2, 7, 6, 2))
    y, x = _grid(7, 6, (1e-5, 2e-5))
    expected = z * np.exp(-1j * np.pi * (x**2 + y**2) / (0.5e-6 * 0.02))[None, :, :, None]
    if data_format == "channels_first":
        z, expected = np.moveaxis(z, -1, 1), np.moveaxis(expected, -1, 1)
    for field, tolerance in ((as_pair(z), 1e-12), (as_complex_tensor(z), 1e-6)):
        out = sops.thin_lens(field, 0.02, 0.5e-6, (1e-5, 2e-5), data_format=data_format)
        np.testing.assert_allclose(to_complex_numpy(out), expected, rtol=0, atol=tolerance * np.abs(z).max())
        layer = layers.ThinLens(0.02, 0.5e-6, (1e-5, 2e-5), data_format=data_format, dtype="float64")
        np.testing.assert_allclose(to_complex_numpy(layer(field)), to_complex_numpy(out), rtol=0,
                                   atol=tolerance * np.abs(z).max())


@pytest.mark.parametrize("shape", ("circle", "square"))
def test_aperture_against_numpy(shape):
    z = random_complex(np.random.default_rng(1), (1, 9, 8, 1))
    y, x = _grid(9, 8, 1.0)
    inside = (np.hypot(x, y) <= 3.0) if shape == "circle" else (np.maximum(np.abs(x), np.abs(y)) <= 3.0)
    expected = z * inside[None, :, :, None]
    out = sops.aperture(as_pair(z), 3.0, 1.0, shape=shape)
    np.testing.assert_array_equal(to_complex_numpy(out), expected)
    out = layers.Aperture(3.0, 1.0, shape=shape)(as_complex_tensor(z, "complex128"))
    np.testing.assert_array_equal(to_complex_numpy(out), expected)


def test_a_lens_focuses_a_gaussian_beam():
    wavelength, pitch, n, w0, focal = 0.5e-6, 2e-6, 256, 100e-6, 0.02
    y, x = _grid(n, n, pitch)
    beam = np.exp(-(x**2 + y**2) / w0**2)[None, :, :, None]
    field = sops.thin_lens(as_pair(beam), focal, wavelength, pitch)
    focused = to_complex_numpy(sops.free_space_propagation(field, focal, wavelength, pitch))[0, :, :, 0]
    expected = wavelength * focal / (np.pi * w0)  # 32 um: a focus, from 100 um
    intensity = np.abs(focused) ** 2
    width = 2 * np.sqrt(np.sum(intensity * x**2) / np.sum(intensity))
    assert abs(width / expected - 1) < 0.01, width / expected


def test_bad_arguments():
    field = as_pair(np.ones((1, 4, 4, 1)))
    for call, name in (
        (lambda: sops.thin_lens(field, 0.0, 0.5e-6, 1e-6), "focal_length"),
        (lambda: sops.thin_lens(field, 0.1, -1.0, 1e-6), "wavelength"),
        (lambda: layers.ThinLens(0.1, 0.5e-6, (1e-6, 0.0)), "pixel_pitch"),
        (lambda: sops.aperture(field, -1.0, 1.0), "radius"),
        (lambda: layers.Aperture(1.0, 1.0, shape="hexagon"), "shape"),
        (lambda: sops.aperture((np.ones((4, 4)), np.ones((4, 4))), 1.0, 1.0), "field"),
    ):
        with pytest.raises(StructconvError, match=f"`{name}`"):
            call()
