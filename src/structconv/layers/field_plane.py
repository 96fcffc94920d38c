"""`FieldPlaneLayer`: the base of the optical elements acting on a sampled field plane (`Aperture`,
`ThinLens`, `FreeSpacePropagation`): the sampling interval, the data format, the input-shape checks and
the output spec (the input's form and shape)."""

import keras

from structconv.layers.complex_forms import same_form_spec
from structconv.ops.propagation import field_plane_shape
from structconv.shapes.arithmetic import normalize_data_format


class FieldPlaneLayer(keras.layers.Layer):
    """Holds `pixel_pitch` (a number or a `(y, x)` pair) and `data_format`; subclasses validate their own
    arguments before calling `__init__`, implement `call`, and add their arguments to `get_config`."""

    def __init__(self, pixel_pitch, *, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pixel_pitch = tuple(pixel_pitch) if isinstance(pixel_pitch, (tuple, list)) else pixel_pitch
        self.data_format = normalize_data_format(data_format, default=keras.config.image_data_format())

    def compute_output_spec(self, inputs):
        # the op's shape checks, for symbolic inputs too (Keras does not run `call` on them)
        field_plane_shape((inputs[0] if isinstance(inputs, (tuple, list)) else inputs).shape,
                          self.data_format)
        return same_form_spec(inputs)

    def get_config(self):
        config = super().get_config()
        config.update({"pixel_pitch": self.pixel_pitch, "data_format": self.data_format})
        return config
