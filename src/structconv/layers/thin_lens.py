"""`ThinLens`: a fixed lens phase `exp(-i pi r^2 / (wavelength f))` on a field plane."""

import keras

from structconv.layers.complex_forms import same_form_spec
from structconv.ops.optical_elements import thin_lens, thin_lens_transmission
from structconv.ops.propagation import field_plane_shape
from structconv.shapes.arithmetic import normalize_data_format


@keras.saving.register_keras_serializable(package="structconv")
class ThinLens(keras.layers.Layer):
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
        super().__init__(**kwargs)
        thin_lens_transmission((2, 2), focal_length, wavelength, pixel_pitch)  # validates the arguments
        self.focal_length = float(focal_length)
        self.wavelength = float(wavelength)
        self.pixel_pitch = tuple(pixel_pitch) if isinstance(pixel_pitch, (tuple, list)) else pixel_pitch
        self.data_format = normalize_data_format(data_format, default=keras.config.image_data_format())

    def call(self, inputs):
        return thin_lens(inputs, self.focal_length, self.wavelength, self.pixel_pitch, self.data_format)

    def compute_output_spec(self, inputs):
        # the op's shape checks, for symbolic inputs too (Keras does not run `call` on them)
        field_plane_shape((inputs[0] if isinstance(inputs, (tuple, list)) else inputs).shape,
                          self.data_format)
        return same_form_spec(inputs)

    def get_config(self):
        config = super().get_config()
        config.update({"focal_length": self.focal_length, "wavelength": self.wavelength,
                       "pixel_pitch": self.pixel_pitch, "data_format": self.data_format})
        return config
