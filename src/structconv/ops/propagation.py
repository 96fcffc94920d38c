"""Free-space propagation of a scalar optical field between parallel planes, by FFT.

A field `u(x, y)` sampled with pitch `(dy, dx)` propagates over `z` as `ifft2(fft2(u) * H)` (the angular
spectrum method): every plane wave `exp(i 2 pi (fx x + fy y))` of the field gains the phase of its axial
wavenumber. Two transfer functions `H(fy, fx)`:

- `"angular_spectrum"` (exact for the scalar wave equation):
  `H = exp(i 2 pi z sqrt(1 / lambda^2 - fx^2 - fy^2))`. Evanescent components (`fx^2 + fy^2 >
  1 / lambda^2`) decay as `exp(-2 pi |z| sqrt(fx^2 + fy^2 - 1 / lambda^2))`, for either sign of `z`, so
  propagating back does not amplify them; they appear only when the pitch is below `lambda / sqrt(2)`.
- `"fresnel"` (the paraxial transfer function):
  `H = exp(i 2 pi z / lambda) exp(-i pi lambda z (fx^2 + fy^2))`.

Both have `|H| = 1` on propagating waves, so energy is conserved (Parseval) and `-z` undoes `+z`.

Discretisation. The FFT makes the convolution circular: light leaving one side enters the other. `padding`
adds zeros around the field first (`padding = n // 2` on each side doubles the window, as Matsushima &
Shimobaba do) and crops them off after. For long distances `H` oscillates faster than the frequency grid
samples it; `band_limit=True` keeps only `|f| < 1 / (lambda sqrt((2 z / L)^2 + 1))` on each axis (`L` the
padded window's width; Matsushima & Shimobaba, Opt. Express 17, 19662 (2009)), the band that the window can
represent without aliasing; for `"fresnel"` its paraxial form `|f| < L / (2 lambda |z|)`. The band limit
removes light, so energy is no longer conserved.

Precision. A fixed (Python number) distance gives `H` computed once in NumPy float64 and rounded to the
field's dtype. A tensor distance (a trainable variable) gives `H` computed in the field's dtype so that
gradients reach it: in float32 the phase `2 pi z / lambda` (about 1e4 rad over 1 mm of visible light) has
an absolute error near 1e-3 rad, common to all frequencies to first order, which intensities do not see;
use float64 where the phase itself matters. float16 and bfloat16 fields are transformed in float32 (no
backend has half-precision FFTs on CPU) and returned in their own dtype.

Speed. The op computes in complex arithmetic whatever the form of the field: a pair is joined once, the
backend's complex `fft2`/`ifft2` run over the spatial axes where they lie, and `H` (one cached complex
array for a fixed distance) multiplies the spectrum in one complex product. Splitting spectra into pairs
around `keras.ops.fft2` and multiplying in real arithmetic made it 1.1-1.5x slower than `scipy.fft` by
hand on torch and TensorFlow (docs/benchmarks.md).

Export. ONNX has no complex tensors and onnxruntime runs no complex FFT, so a graph traced for export (an
ONNX export, or a symbolic size as under torch.export and jax2tf: `ops.tracing.exporting`) computes in
real arithmetic only (`propagate_in_real_arithmetic`): each DFT and inverse DFT is a product with constant
real cos and sin matrices (`ops.real_dft`, NumPy float64 rounded to the dtype; the padding and the crop
are folded into them), complex products act on `(real, imag)` pairs, and `H` is a `(real, imag)` pair (of
constants, or of tensors for a tensor distance). Cost `O(H W (H + W))` instead of the FFT's, to float
rounding the same result. Eager calls, `jax.jit` and `tf.function` keep the FFT; `torch.compile` with a
dynamic batch size (a symbolic one) takes the export form, as the convolution planner plans direct there.
"""

import functools
from numbers import Real

import keras
import numpy as np
from keras import ops

from structconv._backend import get_backend
from structconv.errors import invalid_argument
from structconv.ops.complex_conv import cos_sin, join_complex, split_complex
from structconv.ops.real_dft import dft_last_axis
from structconv.ops.tracing import exporting
from structconv.shapes.arithmetic import normalize_data_format

APPROXIMATIONS = ("angular_spectrum", "fresnel")


def _positive_pair(value, name):
    """A positive number, or a (y, x) pair of them, as a pair of floats."""
    values = value if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2 or not all(isinstance(v, Real) and not isinstance(v, bool) and v > 0 for v in values):
        raise invalid_argument(name, value, "a positive number or a (y, x) pair of positive numbers")
    return float(values[0]), float(values[1])


def _padding_pair(padding):
    values = padding if isinstance(padding, (tuple, list)) else (padding, padding)
    if len(values) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        raise invalid_argument("padding", padding, "a non-negative int or a (y, x) pair of them (zeros added "
                               "on each side)")
    return int(values[0]), int(values[1])


def check_propagation_arguments(wavelength, pixel_pitch, approximation, padding):
    """Validates the arguments shared by the op and the layer; returns them normalised."""
    if not isinstance(wavelength, Real) or isinstance(wavelength, bool) or not wavelength > 0:
        raise invalid_argument("wavelength", wavelength, "a positive number (in the unit of `pixel_pitch`)")
    if not isinstance(approximation, str) or approximation.lower() not in APPROXIMATIONS:
        raise invalid_argument("approximation", approximation, " or ".join(repr(a) for a in APPROXIMATIONS))
    return float(wavelength), _positive_pair(pixel_pitch, "pixel_pitch"), approximation.lower(), \
        _padding_pair(padding)


@functools.lru_cache(maxsize=32)
def _frequency_terms(shape, wavelength, pitch, approximation):
    """NumPy float64 arrays on the FFT grid: the phase per unit distance, the decay per unit distance of
    evanescent waves, and |fy|, |fx| (for the band limit)."""
    fy = np.fft.fftfreq(shape[0], pitch[0])[:, None]
    fx = np.fft.fftfreq(shape[1], pitch[1])[None, :]
    squared = fy**2 + fx**2
    if approximation == "fresnel":
        phase = 2 * np.pi / wavelength - np.pi * wavelength * squared
        decay = np.zeros_like(phase)
    else:
        axial = 1.0 / wavelength**2 - squared
        phase = 2 * np.pi * np.sqrt(np.maximum(axial, 0.0))
        decay = 2 * np.pi * np.sqrt(np.maximum(-axial, 0.0))
    for array in (phase, decay):
        array.flags.writeable = False
    return phase, decay, np.abs(fy), np.abs(fx)


@functools.lru_cache(maxsize=32)
def _fixed_transfer(shape, distance, wavelength, pitch, approximation, band_limit, dtype):
    """`H` of a fixed distance as NumPy `(real, imag)` arrays of `dtype`, computed once in float64 (eager
    calls then only copy it to the device)."""
    phase, decay, abs_fy, abs_fx = _frequency_terms(shape, wavelength, pitch, approximation)
    amplitude = np.exp(-abs(distance) * decay)
    if band_limit:
        window = (shape[0] * pitch[0], shape[1] * pitch[1])
        limit_y, limit_x = _band_limits(distance, np, wavelength, window, approximation)
        amplitude = amplitude * ((abs_fy < limit_y) & (abs_fx < limit_x))
    h = amplitude * np.exp(1j * distance * phase)
    # left writable: torch warns on (and copies) read-only arrays; no op writes into its inputs
    return h.real.astype(dtype), h.imag.astype(dtype)


@functools.lru_cache(maxsize=32)
def _fixed_complex_transfer(shape, distance, wavelength, pitch, approximation, band_limit, dtype):
    """`H` of a fixed distance as one NumPy complex array (complex64 for float32 `dtype`), from the same
    float64 computation as `_fixed_transfer`."""
    real, imag = _fixed_transfer(shape, distance, wavelength, pitch, approximation, band_limit, "float64")
    return (real + 1j * imag).astype("complex128" if dtype == "float64" else "complex64")


def _band_limits(distance, xp, wavelength, window, approximation):
    """The largest |f| on each axis that the window of width `window` samples without aliasing."""
    limits = []
    for width in window:
        if approximation == "fresnel":
            # avoid 1/0 at z = 0 (no limit then): the paraxial form of Matsushima's bound
            limits.append(width / (2 * wavelength * xp.maximum(xp.abs(distance), 1e-30 * width)))
        else:
            limits.append(1.0 / (wavelength * xp.sqrt((2 * distance / width) ** 2 + 1.0)))
    return limits


def field_plane_shape(shape, data_format):
    """`(height, width)` of a 4-D field's shape; a `StructconvError` naming `field` for any other rank or an
    unknown height or width (the transfer function is built for a known plane)."""
    shape = tuple(shape)
    if len(shape) != 4:
        raise invalid_argument("field", f"a tensor of shape {shape}",
                               "a 4-D field (batch, height, width, channels) or channels_first")
    plane = shape[1:3] if data_format == "channels_last" else shape[2:4]
    if None in plane:
        raise invalid_argument("field", f"a tensor of shape {shape}",
                               "a field whose height and width are known when the op is built")
    return tuple(int(n) for n in plane)


def transfer_function(shape, distance, wavelength, pixel_pitch, *, approximation="angular_spectrum",
                      band_limit=False, dtype="float32"):
    """`(real, imag)` of the transfer function `H` on the FFT grid of a field of spatial `shape`.

    Args:
        shape: `(height, width)` of the (padded) field.
        distance: a number, or a scalar tensor (gradients then reach it).
        wavelength, pixel_pitch, approximation, band_limit: as `free_space_propagation`.
        dtype: the real dtype of the parts.

    >>> real, imag = transfer_function((4, 4), 1e-3, 0.5e-6, 2e-6)
    >>> float(keras.ops.max(real ** 2 + imag ** 2))  # |H| = 1 without evanescent waves
    1.0
    """
    wavelength, pitch, approximation, _ = check_propagation_arguments(wavelength, pixel_pitch, approximation,
                                                                      0)
    shape = tuple(int(n) for n in shape)
    phase, decay, abs_fy, abs_fx = _frequency_terms(shape, wavelength, pitch, approximation)
    window = (shape[0] * pitch[0], shape[1] * pitch[1])
    if isinstance(distance, Real):
        real, imag = _fixed_transfer(shape, float(distance), wavelength, pitch, approximation,
                                     bool(band_limit), keras.backend.standardize_dtype(dtype))
        return ops.convert_to_tensor(real, dtype), ops.convert_to_tensor(imag, dtype)
    distance = ops.cast(distance, dtype)
    cos, sin = cos_sin(distance * ops.convert_to_tensor(phase.astype(dtype), dtype))
    amplitude = ops.exp(-ops.abs(distance) * ops.convert_to_tensor(decay.astype(dtype), dtype))
    if band_limit:
        limit_y, limit_x = _band_limits(distance, ops, wavelength, window, approximation)
        inside = ops.logical_and(ops.less(ops.convert_to_tensor(abs_fy.astype(dtype), dtype), limit_y),
                                 ops.less(ops.convert_to_tensor(abs_fx.astype(dtype), dtype), limit_x))
        amplitude = amplitude * ops.cast(inside, dtype)
    return amplitude * cos, amplitude * sin


def free_space_propagation(field, distance, wavelength, pixel_pitch, *, approximation="angular_spectrum",
                           band_limit=False, padding=0, data_format=None):
    """Propagates a complex field over `distance` in free space (angular spectrum method, by FFT).

    Args:
        field: a complex tensor or a `(real, imag)` pair, `(batch, height, width, channels)` (or
            `(batch, channels, height, width)` with `data_format="channels_first"`); each channel is an
            independent field. The output takes the same form, shape and dtype.
        distance: the propagation distance (negative: backwards), a number or a scalar tensor.
        wavelength: the wavelength, in the unit of `pixel_pitch` and `distance` (e.g. all in metres).
        pixel_pitch: the sampling interval, a number or a `(y, x)` pair.
        approximation: `"angular_spectrum"` (default, exact) or `"fresnel"` (paraxial).
        band_limit: keep only the frequencies the window samples without aliasing (Matsushima's
            band-limited angular spectrum); see the module docstring.
        padding: zeros added on each side of each spatial axis before the FFT and cropped off after, an
            int or a `(y, x)` pair, against wrap-around (`n // 2` doubles the window).
        data_format: `"channels_last"` or `"channels_first"`; default `keras.config.image_data_format()`.

    Example: a point source spreads, and the energy stays.

    >>> import numpy as np
    >>> u = np.zeros((1, 32, 32, 1)); u[0, 16, 16, 0] = 1.0
    >>> real, imag = free_space_propagation((u, 0 * u), 20e-6, 0.5e-6, 1e-6)
    >>> energy = keras.ops.sum(real ** 2 + imag ** 2)
    >>> round(float(energy), 6), float(keras.ops.max(real ** 2 + imag ** 2)) < 0.5
    (1.0, True)
    """
    wavelength, pitch, approximation, (pad_y, pad_x) = check_propagation_arguments(
        wavelength, pixel_pitch, approximation, padding)
    data_format = normalize_data_format(data_format, default=keras.config.image_data_format())
    first = field[0] if isinstance(field, (tuple, list)) and field else field
    if exporting(getattr(first, "shape", ())):
        return _propagate_by_matrices(field, distance, wavelength, pitch, approximation, band_limit,
                                      (pad_y, pad_x), data_format)
    backend = get_backend()
    field, dtype, as_pair = _complex_field(field, backend)
    # One compiled program per arguments where the backend stages eager calls (`staged`: JAX); a distance
    # that is a number is one of them, a tensor (a trainable distance) is an input of the program.
    fixed = isinstance(distance, Real)
    static = (float(distance) if fixed else None, wavelength, pitch, approximation, bool(band_limit),
              (pad_y, pad_x), data_format)
    tensors = (field,) if fixed else (field, ops.convert_to_tensor(distance))
    field = backend.staged(_propagate, static, *tensors)
    if as_pair:
        return ops.cast(ops.real(field), dtype), ops.cast(ops.imag(field), dtype)
    return field


def _propagate(fixed_distance, wavelength, pitch, approximation, band_limit, pads, data_format, field,
               distance=None):
    """`free_space_propagation` of a complex tensor (arguments checked)."""
    backend = get_backend()
    distance = fixed_distance if distance is None else distance
    pad_y, pad_x = pads
    height, width = field_plane_shape(field.shape, data_format)
    work = "float64" if keras.backend.standardize_dtype(field.dtype) == "complex128" else "float32"
    channels_last = data_format == "channels_last"
    single_channel = channels_last and field.shape[3] == 1
    if single_channel:  # (B, H, W, 1) as (B, 1, H, W): a free reshape, no transpose
        field = ops.expand_dims(ops.squeeze(field, 3), 1)
    axes = (1, 2) if channels_last and not single_channel else (2, 3)
    if pad_y or pad_x:
        pads = [(0, 0)] * 4
        pads[axes[0]], pads[axes[1]] = (pad_y, pad_y), (pad_x, pad_x)
        field = ops.pad(field, pads)
    h = _complex_transfer((height + 2 * pad_y, width + 2 * pad_x), distance, wavelength, pitch,
                          approximation, band_limit, work, backend, field)
    if axes == (1, 2):
        h = ops.expand_dims(h, -1)
    field = backend.ifft2(backend.fft2(field, axes) * h, axes)
    if pad_y or pad_x:
        field = field[:, pad_y:pad_y + height, pad_x:pad_x + width] if axes == (1, 2) else \
            field[:, :, pad_y:pad_y + height, pad_x:pad_x + width]
    if single_channel:
        field = ops.expand_dims(ops.squeeze(field, 1), 3)
    return field


def _complex_field(field, backend):
    """`(complex tensor, dtype of the parts, was_pair)`: a pair joined in float32 (float64 for float64
    parts; half precision is transformed in float32), a complex tensor kept as it is."""
    if isinstance(field, (tuple, list)):
        real, imag, _ = split_complex(field, "field")
        dtype = keras.backend.standardize_dtype(real.dtype)
        work = "float64" if dtype == "float64" else "float32"
        return backend.complex(ops.cast(real, work), ops.cast(imag, work)), dtype, True
    requested = keras.backend.standardize_dtype(field.dtype) if hasattr(field, "dtype") else None
    tensor = ops.convert_to_tensor(field)
    name = keras.backend.standardize_dtype(tensor.dtype)
    if "complex" not in name or (requested == "complex128" and name != "complex128"):
        split_complex(field, "field")  # raises split_complex's error for this input
    return tensor, None, False


def _complex_transfer(shape, distance, wavelength, pitch, approximation, band_limit, work, backend, field):
    """`H` as one complex tensor (complex64 for float32 `work`, complex128 for float64), on `field`'s
    device."""
    if isinstance(distance, Real):
        h = _fixed_complex_transfer(shape, float(distance), wavelength, pitch, approximation,
                                    bool(band_limit), work)
        return backend.constant_like(h, field)
    real, imag = transfer_function(shape, distance, wavelength, pitch, approximation=approximation,
                                   band_limit=band_limit, dtype=work)
    return backend.complex(real, imag)


def propagate_in_real_arithmetic(field, distance, wavelength, pixel_pitch, *,
                                 approximation="angular_spectrum", band_limit=False, padding=0,
                                 data_format=None):
    """`free_space_propagation` in real arithmetic only, as an exported graph computes it (the DFTs as
    products with constant cos and sin matrices, complex products on `(real, imag)` pairs): the same
    arguments, the same result to the dtype's rounding, slower (`O(H W (H + W))`).

    >>> import numpy as np
    >>> u = np.random.default_rng(0).standard_normal((1, 8, 8, 2))
    >>> fast = free_space_propagation((u, 0 * u), 20e-6, 0.5e-6, 1e-6, padding=2)
    >>> slow = propagate_in_real_arithmetic((u, 0 * u), 20e-6, 0.5e-6, 1e-6, padding=2)
    >>> all(np.allclose(np.asarray(a), np.asarray(b)) for a, b in zip(fast, slow))
    True
    """
    wavelength, pitch, approximation, pads = check_propagation_arguments(
        wavelength, pixel_pitch, approximation, padding)
    data_format = normalize_data_format(data_format, default=keras.config.image_data_format())
    return _propagate_by_matrices(field, distance, wavelength, pitch, approximation, band_limit, pads,
                                  data_format)


def _propagate_by_matrices(field, distance, wavelength, pitch, approximation, band_limit, pads, data_format):
    real, imag, as_pair = split_complex(field, "field")
    dtype = keras.backend.standardize_dtype(real.dtype)
    work = "float64" if dtype == "float64" else "float32"
    height, width = field_plane_shape(real.shape, data_format)
    (pad_y, pad_x), pair = pads, (ops.cast(real, work), ops.cast(imag, work))
    if data_format == "channels_last":  # explicit axes: negative ones make an invalid ONNX Transpose on torch
        pair = [ops.transpose(part, (0, 3, 1, 2)) for part in pair]
    # (batch, channels, height, width) -> the spectrum as (batch, channels, width, height)
    pair = dft_last_axis(pair, pad_x)
    pair = dft_last_axis([ops.transpose(part, (0, 1, 3, 2)) for part in pair], pad_y)
    h_real, h_imag = (ops.transpose(part, (1, 0)) for part in transfer_function(
        (height + 2 * pad_y, width + 2 * pad_x), distance, wavelength, pitch, approximation=approximation,
        band_limit=band_limit, dtype=work))
    pair = (pair[0] * h_real - pair[1] * h_imag, pair[0] * h_imag + pair[1] * h_real)
    pair = dft_last_axis(pair, pad_y, inverse=True)
    pair = dft_last_axis([ops.transpose(part, (0, 1, 3, 2)) for part in pair], pad_x, inverse=True)
    if data_format == "channels_last":
        pair = [ops.transpose(part, (0, 2, 3, 1)) for part in pair]
    if as_pair:
        return ops.cast(pair[0], dtype), ops.cast(pair[1], dtype)
    return join_complex(pair[0], pair[1], False)
