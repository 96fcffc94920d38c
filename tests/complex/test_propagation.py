"""Free-space propagation (`ops.free_space_propagation`, `layers.FreeSpacePropagation`): against a NumPy
complex128 reference, the physics (Parseval, a Gaussian beam's width, +z then -z), and float64 gradients
w.r.t. the real and imaginary parts of the field and w.r.t. the distance.

The reference transforms each channel with `numpy.fft`, builds the transfer function from the complex
square root of `1 / lambda^2 - f^2` (evanescent waves come out of the square root, not a branch), and pads
and crops with `numpy.pad` and slicing.
"""

import keras
import numpy as np
import pytest
import reference
from complex.complex_helpers import (
    as_complex_tensor,
    as_pair,
    compiled,
    dtype_name,
    random_complex,
    tensor,
    to_complex_numpy,
    to_numpy,
)
from conftest import autodiff_gradients

from structconv import layers
from structconv import ops as sops
from structconv.ops.complex_conv import join_complex, split_complex
from structconv.ops.propagation import propagate_in_real_arithmetic


def transfer_reference(shape, z, wavelength, pitch, approximation="angular_spectrum", band_limit=False):
    fy, fx = np.meshgrid(np.fft.fftfreq(shape[0], pitch[0]), np.fft.fftfreq(shape[1], pitch[1]),
                         indexing="ij")
    if approximation == "fresnel":
        h = np.exp(2j * np.pi * z / wavelength) * np.exp(-1j * np.pi * wavelength * z * (fx**2 + fy**2))
    else:
        kz = np.sqrt((1 / wavelength**2 - fx**2 - fy**2).astype(np.complex128))  # imaginary if evanescent
        h = np.exp(2j * np.pi * z * kz.real) * np.exp(-2 * np.pi * abs(z) * kz.imag)
    if band_limit:
        for f, n, p in ((fy, shape[0], pitch[0]), (fx, shape[1], pitch[1])):
            width = n * p
            if approximation == "fresnel":
                limit = width / (2 * wavelength * abs(z))
            else:
                limit = 1 / (wavelength * np.sqrt((2 * z / width) ** 2 + 1))
            h = h * (np.abs(f) < limit)
    return h


def propagate_reference(u, z, wavelength, pitch, approximation="angular_spectrum", band_limit=False,
                        padding=0, data_format="channels_last"):
    """`u` complex128 (batch, h, w, c) or channels_first; the propagated field, same layout."""
    u = np.asarray(u, np.complex128)
    if data_format == "channels_last":
        u = np.moveaxis(u, -1, 1)
    pitch = pitch if isinstance(pitch, tuple) else (pitch, pitch)
    pad = padding if isinstance(padding, tuple) else (padding, padding)
    height, width = u.shape[2:]
    padded = np.pad(u, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    h = transfer_reference(padded.shape[2:], z, wavelength, pitch, approximation, band_limit)
    out = np.fft.ifft2(np.fft.fft2(padded) * h)[:, :, pad[0]:pad[0] + height, pad[1]:pad[1] + width]
    return np.moveaxis(out, 1, -1) if data_format == "channels_last" else out


# wavelength 0.5 um and pitch 1-2 um (metres): no evanescent waves below lambda / sqrt(2) = 0.35 um
CASES = {
    "asm": dict(distance=200e-6, wavelength=0.5e-6, pixel_pitch=1e-6),
    # the band limit cuts both axes (not down to the DC term alone)
    "asm_padded_band_limited": dict(distance=150e-6, wavelength=0.5e-6, pixel_pitch=(1e-6, 2e-6),
                                    padding=(4, 3), band_limit=True),
    "asm_backwards_evanescent": dict(distance=-3e-6, wavelength=0.5e-6, pixel_pitch=0.3e-6, padding=2),
    "fresnel": dict(distance=150e-6, wavelength=0.6e-6, pixel_pitch=2e-6, approximation="fresnel", padding=5),
    "fresnel_band_limited": dict(distance=100e-6, wavelength=0.6e-6, pixel_pitch=2e-6,
                                 approximation="fresnel", band_limit=True),
}


def _reference_for(z, case, data_format="channels_last"):
    case = dict(case)
    pitch = case.pop("pixel_pitch")
    return propagate_reference(z, case.pop("distance"), case.pop("wavelength"),
                               pitch if isinstance(pitch, tuple) else (pitch, pitch), data_format=data_format,
                               **case)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("data_format", ("channels_last", "channels_first"))
@pytest.mark.parametrize("channels", (3, 1))  # one channels_last channel is transformed as channels_first
def test_against_numpy(name, data_format, channels):
    case = CASES[name]
    rng = np.random.default_rng(0)
    shape = (2, 12, 10, channels) if data_format == "channels_last" else (2, channels, 12, 10)
    z = random_complex(rng, shape)
    expected = _reference_for(z, case, data_format)
    scale = np.abs(expected).max()
    # float64: phases of up to 2 pi z / lambda ~ 2e3 rad, rounded differently from the reference's
    for field, tolerance in ((as_pair(z, "float64"), 1e-11), (as_pair(z, "float32"), 2e-5),
                             (as_complex_tensor(z, "complex64"), 2e-5),
                             (as_complex_tensor(z, "complex128"), 1e-11)):
        out = sops.free_space_propagation(field, data_format=data_format, **case)
        assert isinstance(out, tuple) == isinstance(field, tuple)
        parts = out if isinstance(out, tuple) else (out,)
        assert {dtype_name(p) for p in parts} == {dtype_name(field[0] if isinstance(field, tuple) else field)}
        np.testing.assert_allclose(to_complex_numpy(out), expected, rtol=0, atol=tolerance * scale)


def test_energy_is_conserved_without_band_limit():
    """Parseval: |H| = 1 on every frequency when no wave is evanescent (pitch > lambda / sqrt(2))."""
    z = random_complex(np.random.default_rng(1), (1, 32, 24, 2))
    for approximation in ("angular_spectrum", "fresnel"):
        out = to_complex_numpy(sops.free_space_propagation(as_pair(z), 5e-3, 0.5e-6, 2e-6,
                                                           approximation=approximation))
        energy_in, energy_out = np.sum(np.abs(z) ** 2, axis=(1, 2)), np.sum(np.abs(out) ** 2, axis=(1, 2))
        np.testing.assert_allclose(energy_out, energy_in, rtol=1e-12)
        assert np.abs(out - z).max() > 0.1  # it did propagate


@pytest.mark.parametrize("approximation", ("angular_spectrum", "fresnel"))
def test_gaussian_beam_width(approximation):
    """A Gaussian waist w0 widens to w(z) = w0 sqrt(1 + (z / zR)^2), zR = pi w0^2 / lambda (paraxial
    optics); the width is measured as 2 sqrt(<x^2>) of the intensity, along each axis."""
    wavelength, pitch, w0, n = 0.5e-6, 2e-6, 20e-6, 128
    rayleigh = np.pi * w0**2 / wavelength
    coordinates = (np.arange(n) - n / 2) * pitch
    y, x = np.meshgrid(coordinates, coordinates, indexing="ij")
    beam = np.exp(-(x**2 + y**2) / w0**2)[None, :, :, None]
    for distance in (0.5 * rayleigh, rayleigh, 2 * rayleigh):
        out = sops.free_space_propagation(as_pair(beam), distance, wavelength, pitch,
                                          approximation=approximation, padding=n // 2)
        intensity = np.abs(to_complex_numpy(out)[0, :, :, 0]) ** 2
        expected = w0 * np.sqrt(1 + (distance / rayleigh) ** 2)
        for axis in (x, y):
            width = 2 * np.sqrt(np.sum(intensity * axis**2) / np.sum(intensity))
            assert abs(width / expected - 1) < 0.01, (distance / rayleigh, width / expected)


@pytest.mark.parametrize("dtype, tolerance", (("float64", 1e-12), ("float32", 1e-5)))
def test_forward_then_back_returns_the_field(dtype, tolerance):
    z = random_complex(np.random.default_rng(2), (2, 16, 16, 1))
    for kwargs in (dict(), dict(approximation="fresnel"), dict(pixel_pitch=(1e-6, 0.8e-6))):
        kwargs = {"pixel_pitch": 1e-6, **kwargs}
        there = sops.free_space_propagation(as_pair(z, dtype), 1e-3, 0.5e-6, **kwargs)
        back = to_complex_numpy(sops.free_space_propagation(there, -1e-3, 0.5e-6, **kwargs))
        np.testing.assert_allclose(back, z, rtol=0, atol=tolerance * np.abs(z).max())


def _loss_weights(shape, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(3)]


def _reference_loss(z, weights, **case):
    y = _reference_for(z, case)
    u, v, w = weights
    return float(np.sum(u * y.real + v * y.imag + w * np.abs(y) ** 2))


@pytest.mark.parametrize("name", ("asm_padded_band_limited", "fresnel", "asm_backwards_evanescent"))
@pytest.mark.parametrize("form", ("pair", "complex128"))
def test_gradients_wrt_the_field(name, form):
    """Gradient of a real loss w.r.t. the real and imaginary parts (through a complex128 tensor too),
    against central differences of the NumPy reference along every real and every imaginary direction."""
    case = CASES[name]
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 1, 6, 5, 2))
    weights = _loss_weights(a.shape, 4)
    u, v, w = (tensor(t, "float64") for t in weights)

    def loss(a, b):
        field = (a, b) if form == "pair" else join_complex(a, b, as_pair=False)
        real, imag, _ = split_complex(sops.free_space_propagation(field, **case), "out")
        return keras.ops.sum(u * real + v * imag + w * sops.intensity((real, imag)))

    d_real, d_imag = autodiff_gradients(loss, a, b)
    numeric_real = reference.numerical_gradient(lambda t: _reference_loss(t + 1j * b, weights, **case), a)
    numeric_imag = reference.numerical_gradient(lambda t: _reference_loss(a + 1j * t, weights, **case), b)
    for gradient, numeric in ((d_real, numeric_real), (d_imag, numeric_imag)):
        np.testing.assert_allclose(gradient, numeric, rtol=0, atol=1e-7 * np.abs(numeric).max())


@pytest.mark.parametrize("approximation", ("angular_spectrum", "fresnel"))
@pytest.mark.parametrize("band_limit", (False, True))
def test_gradient_wrt_the_distance(approximation, band_limit):
    """Unitless optics (wavelength 1, pitch 1.5) so that central differences in z are accurate; the band
    limit is a step in z, flat between its steps."""
    rng = np.random.default_rng(5)
    z = random_complex(rng, (1, 8, 8, 1))
    weights = _loss_weights(z.shape, 6)
    u, v, w = (tensor(t, "float64") for t in weights)
    case = dict(wavelength=1.0, pixel_pitch=1.5, approximation=approximation, band_limit=band_limit)
    field = as_pair(z)

    def loss(distance):
        real, imag = sops.free_space_propagation(field, distance, **case)
        return keras.ops.sum(u * real + v * imag + w * sops.intensity((real, imag)))

    for distance in (20.0, -12.0):  # the band limit cuts at these distances (2 |z| / window > 1.7)
        (gradient,) = autodiff_gradients(loss, np.array(distance))
        numeric = reference.numerical_gradient(
            lambda d: _reference_loss(z, weights, distance=float(d), **{**case, "pixel_pitch": (1.5, 1.5)}),
            np.array(distance), eps=1e-5)
        np.testing.assert_allclose(gradient, numeric, rtol=1e-7)
        # the library's own loss, compiled, at a tensor distance equals the fixed-distance path
        fixed = sops.free_space_propagation(field, distance, **case)
        traced = compiled(lambda d: sops.free_space_propagation(field, d, **case))(
            tensor(distance, "float64"))
        np.testing.assert_allclose(to_complex_numpy(traced), to_complex_numpy(fixed), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("data_format, channels", (("channels_last", 3), ("channels_last", 1),
                                                   ("channels_first", 2)))
def test_real_arithmetic_path_equals_the_fft_path(name, data_format, channels):
    """What an exported graph computes (DFT matrices, complex products on pairs) against the FFT path, to
    the dtype's rounding, for a pair and a complex tensor, each keeping its form and dtype."""
    case = CASES[name]
    shape = (2, 12, 10, channels) if data_format == "channels_last" else (2, channels, 12, 10)
    z = random_complex(np.random.default_rng(8), shape)
    for field, tolerance in ((as_pair(z, "float64"), 1e-12), (as_pair(z, "float32"), 1e-5),
                             (as_complex_tensor(z, "complex64"), 1e-5),
                             (as_complex_tensor(z, "complex128"), 1e-12)):
        fast = compiled(lambda f: sops.free_space_propagation(f, data_format=data_format, **case))(field)
        slow = compiled(lambda f: propagate_in_real_arithmetic(f, data_format=data_format, **case))(field)
        assert isinstance(slow, tuple) == isinstance(field, tuple)
        parts = slow if isinstance(slow, tuple) else (slow,)
        assert {dtype_name(p) for p in parts} == {dtype_name(field[0] if isinstance(field, tuple) else field)}
        expected = to_complex_numpy(fast)
        np.testing.assert_allclose(to_complex_numpy(slow), expected, rtol=0,
                                   atol=tolerance * np.abs(expected).max())


@pytest.mark.parametrize("approximation, band_limit, padding", (("angular_spectrum", True, 2),
                                                                ("fresnel", False, (1, 3))))
def test_real_arithmetic_path_gradient_wrt_the_distance(approximation, band_limit, padding):
    z = random_complex(np.random.default_rng(9), (1, 8, 6, 2))
    weights = _loss_weights(z.shape, 10)
    u, v, w = (tensor(t, "float64") for t in weights)
    case = dict(wavelength=1.0, pixel_pitch=1.5, approximation=approximation, band_limit=band_limit,
                padding=padding)

    def loss_of(propagate):
        def loss(distance):
            real, imag = propagate(as_pair(z), distance, **case)
            return keras.ops.sum(u * real + v * imag + w * sops.intensity((real, imag)))
        return loss

    for distance in (20.0, -12.0):
        (fast,) = autodiff_gradients(loss_of(sops.free_space_propagation), np.array(distance))
        (slow,) = autodiff_gradients(loss_of(propagate_in_real_arithmetic), np.array(distance))
        assert abs(fast) > 0
        np.testing.assert_allclose(slow, fast, rtol=1e-9)


def test_layer_matches_the_op_and_trains_its_distance():
    z = random_complex(np.random.default_rng(7), (2, 10, 10, 1))
    layer = layers.FreeSpacePropagation(40.0, 1.0, 1.5, trainable_distance=True, padding=2, dtype="float64")
    out = to_complex_numpy(layer(as_pair(z)))
    expected = _reference_for(z, dict(distance=40.0, wavelength=1.0, pixel_pitch=(1.5, 1.5), padding=2))
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12 * np.abs(z).max())
    assert [v.name for v in layer.trainable_variables] == ["distance"]
    layer.distance_variable.assign(25.0)
    out = to_complex_numpy(layer(as_complex_tensor(z, "complex128")))
    expected = _reference_for(z, dict(distance=25.0, wavelength=1.0, pixel_pitch=(1.5, 1.5), padding=2))
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12 * np.abs(z).max())
    fixed = layers.FreeSpacePropagation(40.0, 1.0, 1.5)
    fixed(as_pair(z, "float32"))
    assert fixed.weights == []
    assert to_numpy(layer.distance_variable).item() == 25.0
