"""`GlobalMaxPoolingND` and `GlobalAveragePoolingND`: one value per channel over any number of axes."""

import keras

from structconv.layers.spatial_layer import SpatialLayerND
from structconv.ops import pooling
from structconv.ops.arguments import split_shape


class BaseGlobalPoolingND(SpatialLayerND):
    """Common base of the global pooling layers; not meant to be used directly."""

    pool_op = None

    def __init__(self, data_format=None, keepdims=False, *, rank=None, **kwargs):
        super().__init__(rank, None, "rank", data_format, **kwargs)
        self.keepdims = bool(keepdims)

    def call(self, inputs):
        return type(self).pool_op(inputs, self.data_format, self.keepdims)

    def compute_output_shape(self, input_shape):
        if not self.keepdims:
            super().compute_output_shape(input_shape)  # checks the rank
            _, channels = split_shape(tuple(input_shape), self.data_format)
            return (input_shape[0], channels)
        return super().compute_output_shape(input_shape)

    def output_spatial_shape(self, spatial_shape):
        return (1,) * len(spatial_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"keepdims": self.keepdims})
        return config


@keras.saving.register_keras_serializable(package="structconv")
class GlobalMaxPoolingND(BaseGlobalPoolingND):
    """The max over every spatial axis, per channel, any rank.

    For ranks 1-3 a drop-in replacement for `keras.layers.GlobalMaxPooling1D`/`2D`/`3D`.

    Args:
        data_format: `"channels_last"`, `"channels_first"`, or `None` for `keras.config.image_data_format()`.
        keepdims: if True, the spatial axes stay with size 1.
        rank: keyword-only int >= 1, the number of spatial axes (required unless the class fixes it).

    Input shape:
        `(batch, *spatial, channels)` (channels_last) or `(batch, channels, *spatial)`.

    Output shape:
        `(batch, channels)`, or with `keepdims` the input's layout with every spatial size 1.

    Example:

    >>> import numpy as np
    >>> tuple(GlobalMaxPoolingND(rank=4)(np.zeros((2, 4, 4, 4, 4, 3), "float32")).shape)
    (2, 3)
    """

    pool_op = staticmethod(pooling.global_max_pool)


@keras.saving.register_keras_serializable(package="structconv")
class GlobalAveragePoolingND(BaseGlobalPoolingND):
    """The mean over every spatial axis, per channel: as `GlobalMaxPoolingND`, with the mean.

    Example:

    >>> import numpy as np
    >>> layer = GlobalAveragePoolingND(keepdims=True, rank=5)
    >>> tuple(layer(np.zeros((2, 2, 2, 2, 2, 2, 3), "float32")).shape)
    (2, 1, 1, 1, 1, 1, 3)
    """

    pool_op = staticmethod(pooling.global_avg_pool)
