"""`Aperture`: a fixed opening that blocks the field outside a centred disc or square."""

import keras

from structconv.layers.field_plane import FieldPlaneLayer
from structconv.ops.optical_elements import aperture, aperture_transmission


@keras.saving.register_keras_serializable(package="structconv")
class Aperture(FieldPlaneLayer):
    """Zeroes a complex field outside a centred disc of `radius` (or a square of half-width `radius`).

    Args:
        radius: in the unit of `pixel_pitch`.
        pixel_pitch: the sampling interval, a number or a `(y, x)` pair.
        shape: keyword-only, `"circle"` (default) or `"square"`.
        data_format: keyword-only, `"channels_last"` or `"channels_first"`.

    Input shape:
        A complex tensor or a `(real, imag)` pair, each `(batch, height, width, channels)` (or
        channels_first).

    Output shape:
        The same.

    Example:

    >>> import numpy as np
    >>> real, imag = Aperture(2.0, 1.0)((np.ones((1, 6, 6, 1), "float32"), np.zeros((1, 6, 6, 1), "float32")))
    >>> int(np.asarray(real).sum())  # the samples within 2 of the centre (2.5, 2.5)
    12
    """

    def __init__(self, radius, pixel_pitch, *, shape="circle", data_format=None, **kwargs):
        aperture_transmission((2, 2), radius, pixel_pitch, shape)  # validates the arguments
        super().__init__(pixel_pitch, data_format=data_format, **kwargs)
        self.radius = float(radius)
        self.aperture_shape = shape

    def call(self, inputs):
        return aperture(inputs, self.radius, self.pixel_pitch, shape=self.aperture_shape,
                        data_format=self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({"radius": self.radius, "shape": self.aperture_shape})
        return config
