"""`Aperture`: a fixed opening that blocks the field outside a centred disc or square."""

import keras

from structconv.layers.complex_forms import same_form_spec
from structconv.ops.optical_elements import aperture, aperture_transmission
from structconv.ops.propagation import field_plane_shape
from structconv.shapes.arithmetic import normalize_data_format


@keras.saving.register_keras_serializable(package="structconv")
class Aperture(keras.layers.Layer):
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
        super().__init__(**kwargs)
        aperture_transmission((2, 2), radius, pixel_pitch, shape)  # validates the arguments
        self.radius = float(radius)
        self.pixel_pitch = tuple(pixel_pitch) if isinstance(pixel_pitch, (tuple, list)) else pixel_pitch
        self.aperture_shape = shape
        self.data_format = normalize_data_format(data_format, default=keras.config.image_data_format())

    def call(self, inputs):
        return aperture(inputs, self.radius, self.pixel_pitch, shape=self.aperture_shape,
                        data_format=self.data_format)

    def compute_output_spec(self, inputs):
        # the op's shape checks, for symbolic inputs too (Keras does not run `call` on them)
        field_plane_shape((inputs[0] if isinstance(inputs, (tuple, list)) else inputs).shape,
                          self.data_format)
        return same_form_spec(inputs)

    def get_config(self):
        config = super().get_config()
        config.update({"radius": self.radius, "pixel_pitch": self.pixel_pitch, "shape": self.aperture_shape,
                       "data_format": self.data_format})
        return config
