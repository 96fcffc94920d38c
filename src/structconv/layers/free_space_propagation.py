"""`FreeSpacePropagation`: light between two parallel planes, over a fixed or trainable distance."""

from numbers import Real

import keras

from structconv.errors import invalid_argument
from structconv.layers.field_plane import FieldPlaneLayer
from structconv.ops.propagation import check_propagation_arguments, free_space_propagation


@keras.saving.register_keras_serializable(package="structconv")
class FreeSpacePropagation(FieldPlaneLayer):
    """Propagates a complex field over `distance` (angular spectrum method or Fresnel), by FFT.

    See `structconv.ops.free_space_propagation` for the physics, the band limit and the padding. Each channel
    is an independent field; the output has the input's form (pair or complex tensor), shape and dtype.

    Args:
        distance: the propagation distance, in the unit of `wavelength` and `pixel_pitch`.
        wavelength: the wavelength.
        pixel_pitch: the sampling interval, a number or a `(y, x)` pair.
        approximation: keyword-only, `"angular_spectrum"` (default) or `"fresnel"`.
        band_limit: keyword-only, Matsushima's band limit against aliasing of long distances.
        padding: keyword-only, zeros added on each side before the FFT (an int or a `(y, x)` pair).
        trainable_distance: keyword-only; if True the distance is a trainable scalar variable (`distance`)
            initialised to `distance`; gradients reach it through the transfer function.
        data_format: keyword-only, `"channels_last"` or `"channels_first"`.

    Input shape:
        A complex tensor or a `(real, imag)` pair, each `(batch, height, width, channels)` (or
        channels_first).

    Output shape:
        The same.

    Example:

    >>> import numpy as np
    >>> layer = FreeSpacePropagation(1e-3, 0.5e-6, 4e-6, padding=8)
    >>> x = np.random.rand(2, 16, 16, 1).astype("float32")
    >>> real, imag = layer((x, np.zeros_like(x)))
    >>> tuple(real.shape)
    (2, 16, 16, 1)
    """

    def __init__(self, distance, wavelength, pixel_pitch, *, approximation="angular_spectrum",
                 band_limit=False, padding=0, trainable_distance=False, data_format=None, **kwargs):
        if not isinstance(distance, Real) or isinstance(distance, bool):
            raise invalid_argument("distance", distance, "a number (negative to propagate backwards)")
        check_propagation_arguments(wavelength, pixel_pitch, approximation, padding)
        super().__init__(pixel_pitch, data_format=data_format, **kwargs)
        self.distance = float(distance)
        self.wavelength = float(wavelength)
        self.approximation = approximation.lower()
        self.band_limit = bool(band_limit)
        self.padding = tuple(padding) if isinstance(padding, (tuple, list)) else padding
        self.trainable_distance = bool(trainable_distance)
        self.distance_variable = None

    def build(self, input_shape):
        if self.trainable_distance:
            self.distance_variable = self.add_weight(
                name="distance", shape=(), initializer=keras.initializers.Constant(self.distance),
                autocast=False,  # mixed precision: the transfer function in float32, as the FFT
            )

    def call(self, inputs):
        distance = self.distance if self.distance_variable is None else self.distance_variable
        return free_space_propagation(
            inputs, distance, self.wavelength, self.pixel_pitch, approximation=self.approximation,
            band_limit=self.band_limit, padding=self.padding, data_format=self.data_format,
        )

    def get_config(self):
        config = super().get_config()
        config.update({
            "distance": self.distance, "wavelength": self.wavelength, "approximation": self.approximation,
            "band_limit": self.band_limit, "padding": self.padding,
            "trainable_distance": self.trainable_distance,
        })
        return config
