"""`ThinLens`: a fixed lens phase `exp(-i pi r^2 / (wavelength f))` on a field plane."""

import keras

from structconv.layers.field_plane import FieldPlaneLayer
from structconv.ops.optical_elements import thin_lens, thin_lens_transmission


@keras.saving.register_keras_serializable(package="structconv")
class ThinLens(FieldPlaneLayer):
    """Multiplies a complex field by a thin lens's phase, centred on the field (no variables).

    Args:
        focal_length: the focal length (negative for a diverging lens), in the unit of `pixel_pitch`.
        wavelength: the wavelength.
        pixel_pitch: the sampling interval, a number or a `(y, x)` pair.
        data_format: keyword-only, `"channels_last"` or `"channels_first"`.

    Input shape:
        A complex tensor or a `(real, imag)` pair, each `(batch, height, width, channels)` (or
        channels_first).

    Output shape:
        The same.

    Example:

    >>> import numpy as np
    >>> lens = ThinLens(0.05, 0.5e-6, 10e-6)
    >>> real, imag = lens((np.ones((1, 8, 8, 1), "float32"), np.zeros((1, 8, 8, 1), "float32")))
    >>> tuple(real.shape)
    (1, 8, 8, 1)
    """

    def __init__(self, focal_length, wavelength, pixel_pitch, *, data_format=None, **kwargs):
        thin_lens_transmission((2, 2), focal_length, wavelength, pixel_pitch)  # validates the arguments
        super().__init__(pixel_pitch, data_format=data_format, **kwargs)
        self.focal_length = float(focal_length)
        self.wavelength = float(wavelength)

    def call(self, inputs):
        return thin_lens(inputs, self.focal_length, self.wavelength, self.pixel_pitch, self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({"focal_length": self.focal_length, "wavelength": self.wavelength})
        return config
