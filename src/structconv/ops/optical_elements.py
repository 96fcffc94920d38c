"""Fixed optical elements that multiply a field plane by a transmission: a thin lens and an aperture.

Both are centred on the field: the sample at index `i` of an axis of `n` samples sits at
`(i - (n - 1) / 2) * pitch`. The transmission is computed once in NumPy float64 for the field's shape and
rounded to its dtype.
"""

from numbers import Real

import keras
import numpy as np
from keras import ops

from structconv.errors import invalid_argument
from structconv.ops.complex_conv import join_complex, split_complex
from structconv.ops.propagation import _positive_pair, field_plane_shape
from structconv.shapes.arithmetic import normalize_data_format

APERTURE_SHAPES = ("circle", "square")


def centred_coordinates(shape, pixel_pitch):
    """`(y, x)` NumPy float64 grids of shape `(height, width)`, 0 at the centre of the field."""
    pitch = _positive_pair(pixel_pitch, "pixel_pitch")
    axes = [(np.arange(n) - (n - 1) / 2) * p for n, p in zip(shape, pitch)]
    return axes[0][:, None] + 0 * axes[1][None, :], 0 * axes[0][:, None] + axes[1][None, :]


def thin_lens_transmission(shape, focal_length, wavelength, pixel_pitch):
    """`exp(-i pi (x^2 + y^2) / (wavelength * focal_length))` on the centred grid (complex128 NumPy)."""
    if not isinstance(focal_length, Real) or isinstance(focal_length, bool) or focal_length == 0:
        raise invalid_argument("focal_length", focal_length, "a non-zero number (negative: a diverging lens)")
    if not isinstance(wavelength, Real) or isinstance(wavelength, bool) or not wavelength > 0:
        raise invalid_argument("wavelength", wavelength, "a positive number (in the unit of `pixel_pitch`)")
    y, x = centred_coordinates(shape, pixel_pitch)
    return np.exp(-1j * np.pi * (x**2 + y**2) / (wavelength * focal_length))


def aperture_transmission(shape, radius, pixel_pitch, aperture_shape="circle"):
    """1 inside the aperture, 0 outside (float64 NumPy): a disc of `radius` or a square of half-width it."""
    if not isinstance(radius, Real) or isinstance(radius, bool) or not radius > 0:
        raise invalid_argument("radius", radius, "a positive number (in the unit of `pixel_pitch`)")
    if aperture_shape not in APERTURE_SHAPES:
        raise invalid_argument("shape", aperture_shape, " or ".join(repr(s) for s in APERTURE_SHAPES))
    y, x = centred_coordinates(shape, pixel_pitch)
    if aperture_shape == "circle":
        return (x**2 + y**2 <= radius**2).astype(np.float64)
    return ((np.abs(x) <= radius) & (np.abs(y) <= radius)).astype(np.float64)


def multiply_transmission(field, transmission_fn, data_format=None):
    """`field * t` for the complex transmission `t = transmission_fn((height, width))` (a NumPy array)."""
    data_format = normalize_data_format(data_format, default=keras.config.image_data_format())
    real, imag, as_pair = split_complex(field, "field")
    t = np.asarray(transmission_fn(field_plane_shape(real.shape, data_format)), np.complex128)
    t = t[None, :, :, None] if data_format == "channels_last" else t[None, None]
    dtype = keras.backend.standardize_dtype(real.dtype)
    t_real, t_imag = (ops.convert_to_tensor(part.astype(dtype), dtype) for part in (t.real, t.imag))
    return join_complex(real * t_real - imag * t_imag, real * t_imag + imag * t_real, as_pair)


def thin_lens(field, focal_length, wavelength, pixel_pitch, data_format=None):
    """Multiplies a field by a thin lens's phase `exp(-i pi r^2 / (wavelength f))`.

    Args:
        field: a complex tensor or a `(real, imag)` pair, `(batch, height, width, channels)` (or
            channels_first); the output takes its form.
        focal_length: the focal length (negative for a diverging lens), in the unit of `pixel_pitch`.
        wavelength: the wavelength; pixel_pitch: a number or a `(y, x)` pair.
        data_format: `"channels_last"` or `"channels_first"`.

    >>> import numpy as np
    >>> real, imag = thin_lens((np.ones((1, 4, 4, 1)), np.zeros((1, 4, 4, 1))), 0.1, 0.5e-6, 1e-5)
    >>> bool(np.allclose(np.asarray(real) ** 2 + np.asarray(imag) ** 2, 1.0))  # phase only
    True
    """
    thin_lens_transmission((2, 2), focal_length, wavelength, pixel_pitch)  # checks the arguments first
    return multiply_transmission(
        field, lambda shape: thin_lens_transmission(shape, focal_length, wavelength, pixel_pitch),
        data_format)


def aperture(field, radius, pixel_pitch, *, shape="circle", data_format=None):
    """Zeroes a field outside a centred aperture: a disc of `radius` (`shape="circle"`) or a square of
    half-width `radius` (`shape="square"`), in the unit of `pixel_pitch`.

    >>> import numpy as np
    >>> real, _ = aperture((np.ones((1, 5, 5, 1)), np.zeros((1, 5, 5, 1))), 1.0, 1.0)
    >>> int(np.asarray(real).sum())  # the centre and its 4 neighbours
    5
    """
    aperture_transmission((2, 2), radius, pixel_pitch, shape)  # checks the arguments before the field's
    return multiply_transmission(
        field, lambda size: aperture_transmission(size, radius, pixel_pitch, shape), data_format)
