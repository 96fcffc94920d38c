"""`MaxPoolingND` and `AveragePoolingND`: pooling over any number of spatial axes."""

import keras

from structconv.layers.spatial_layer import SpatialLayerND
from structconv.ops import pooling
from structconv.shapes import arithmetic


class BasePoolingND(SpatialLayerND):
    """Common base of `MaxPoolingND` and `AveragePoolingND`; not meant to be used directly."""

    pool_op = None

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None, *, rank=None,
                 **kwargs):
        super().__init__(rank, pool_size, "pool_size", data_format, name=name, **kwargs)
        self.pool_size, self.strides, self.padding, _ = pooling.pool_arguments(
            self.rank, pool_size, strides, padding, self.data_format
        )

    def call(self, inputs):
        return type(self).pool_op(inputs, self.pool_size, self.strides, self.padding, self.data_format)

    def output_spatial_shape(self, spatial_shape):
        return arithmetic.pool_output_shape(spatial_shape, self.pool_size, self.strides, self.padding)

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": self.pool_size, "strides": self.strides, "padding": self.padding})
        return config


@keras.saving.register_keras_serializable(package="structconv")
class MaxPoolingND(BasePoolingND):
    """Max pooling over any number of spatial axes.

    For ranks 1-3 a drop-in replacement for `keras.layers.MaxPooling1D`/`2D`/`3D` (same arguments, same
    outputs); above that it runs as passes of the backend's own pooling (see `structconv.ops.max_pool`).
    The gradient goes to one element per window, as the frameworks' own pooling.

    Args:
        pool_size: int or tuple of `rank` ints, the window. A tuple also sets `rank`.
        strides: int, tuple of `rank` ints, or `None` (default) for `pool_size`.
        padding: `"valid"` or `"same"` (`ceil(n / stride)` outputs).
        data_format: `"channels_last"`, `"channels_first"`, or `None` for `keras.config.image_data_format()`.
        name: the layer's name.
        rank: keyword-only int, the number of spatial axes, when `pool_size` is an int.

    Input shape:
        `(batch, *spatial, channels)` (channels_last) or `(batch, channels, *spatial)`, `rank` spatial axes.

    Output shape:
        The same layout, each spatial size `structconv.shapes.arithmetic.pool_output_shape`.

    Example:

    >>> import numpy as np
    >>> layer = MaxPoolingND(2, rank=4)
    >>> tuple(layer(np.zeros((2, 8, 8, 8, 8, 3), "float32")).shape)
    (2, 4, 4, 4, 4, 3)
    """

    pool_op = staticmethod(pooling.max_pool)


@keras.saving.register_keras_serializable(package="structconv")
class AveragePoolingND(BasePoolingND):
    """Average pooling over any number of spatial axes.

    Arguments, shapes and rank aliases as `MaxPoolingND`; with `"same"` padding each window averages only
    its real inputs, as Keras's TensorFlow and JAX backends do (Keras's torch backend instead replicates the
    edge into asymmetric windows; this layer keeps the TensorFlow rule on every backend).

    Example:

    >>> import numpy as np
    >>> layer = AveragePoolingND((2, 2, 2, 2), padding="same", data_format="channels_first")
    >>> tuple(layer(np.zeros((2, 3, 5, 5, 5, 5), "float32")).shape)
    (2, 3, 3, 3, 3, 3)
    """

    pool_op = staticmethod(pooling.avg_pool)
