"""What the N-D pooling, upsampling, padding and cropping layers share: rank, data format and shapes."""

import keras

from structconv.errors import invalid_argument
from structconv.ops.arguments import join_shape, resolve_rank, split_shape
from structconv.shapes import arithmetic


class SpatialLayerND(keras.layers.Layer):
    """Base of the stateless N-D layers; not meant to be used directly.

    Subclasses set `rank` through `__init__` and define `output_spatial_shape(spatial_shape)` and `call`.
    """

    fixed_rank = None

    def __init__(self, rank, hint, hint_name, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.rank = resolve_rank(rank, hint, hint_name, self.fixed_rank)
        self.data_format = arithmetic.normalize_data_format(data_format, keras.config.image_data_format())
        self.input_spec = keras.InputSpec(ndim=self.rank + 2)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise invalid_argument("input_shape", input_shape, f"a shape of rank {self.rank + 2}")
        spatial, channels = split_shape(input_shape, self.data_format)
        return join_shape(input_shape[0], self.output_spatial_shape(spatial), channels, self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({"rank": self.rank, "data_format": self.data_format})
        return config
