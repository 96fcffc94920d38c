"""`UpSamplingND`, `ZeroPaddingND` and `CroppingND`: resizing the spatial axes, any rank."""

import keras

from structconv.layers.spatial_layer import SpatialLayerND
from structconv.ops import resampling
from structconv.shapes import arithmetic


@keras.saving.register_keras_serializable(package="structconv")
class UpSamplingND(SpatialLayerND):
    """Upsamples each spatial axis by an integer factor, any rank.

    For ranks 1-3 a drop-in replacement for `keras.layers.UpSampling1D`/`2D`/`3D`; `"linear"` is Keras's
    `"bilinear"` (half-pixel centres, edges clamped) on every axis, at any rank.

    Args:
        size: int or tuple of `rank` ints >= 1, the factor per axis. A tuple also sets `rank`.
        data_format: `"channels_last"`, `"channels_first"`, or `None` for `keras.config.image_data_format()`.
        interpolation: `"nearest"` (`1 2 -> 1 1 2 2`) or `"linear"` (`1 2 -> 1 1.25 1.75 2`); Keras's
            `"bilinear"` and `"trilinear"` are read as `"linear"`.
        rank: keyword-only int, the number of spatial axes, when `size` is an int.

    Input shape:
        `(batch, *spatial, channels)` (channels_last) or `(batch, channels, *spatial)`.

    Output shape:
        The same layout with each spatial size multiplied by its factor.

    Example:

    >>> import numpy as np
    >>> layer = UpSamplingND((2, 2, 2, 1), interpolation="linear")
    >>> tuple(layer(np.zeros((1, 3, 3, 3, 3, 2), "float32")).shape)
    (1, 6, 6, 6, 3, 2)
    """

    def __init__(self, size=2, data_format=None, interpolation="nearest", *, rank=None, **kwargs):
        super().__init__(rank, size, "size", data_format, **kwargs)
        self.size = arithmetic.normalize_tuple(size, self.rank, "size")
        self.interpolation = resampling.normalize_interpolation(interpolation)

    def call(self, inputs):
        return resampling.upsample(inputs, self.size, self.data_format, self.interpolation)

    def output_spatial_shape(self, spatial_shape):
        return tuple(None if n is None else n * s for n, s in zip(spatial_shape, self.size))

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size, "interpolation": self.interpolation})
        return config


@keras.saving.register_keras_serializable(package="structconv")
class ZeroPaddingND(SpatialLayerND):
    """Pads each spatial axis with zeros, any rank; for ranks 1-3 as `keras.layers.ZeroPadding1D`/`2D`/`3D`.

    Args:
        padding: an int for every side, a tuple of `rank` ints (both sides of each axis), or a tuple of
            `rank` `(before, after)` pairs; for rank 1 a bare pair is `(before, after)`. A tuple sets `rank`.
        data_format: `"channels_last"`, `"channels_first"`, or `None` for `keras.config.image_data_format()`.
        rank: keyword-only int, the number of spatial axes, when `padding` is an int.

    Input shape:
        `(batch, *spatial, channels)` (channels_last) or `(batch, channels, *spatial)`.

    Output shape:
        The same layout, each spatial size grown by its padding.

    Example:

    >>> import numpy as np
    >>> layer = ZeroPaddingND((1, (0, 2), 0, 1))
    >>> tuple(layer(np.zeros((1, 3, 3, 3, 3, 2), "float32")).shape)
    (1, 5, 5, 3, 5, 2)
    """

    def __init__(self, padding=1, data_format=None, *, rank=None, **kwargs):
        super().__init__(rank, padding, "padding", data_format, **kwargs)
        self.padding = arithmetic.normalize_pad_widths(padding, self.rank, "padding")

    def call(self, inputs):
        return resampling.zero_pad(inputs, self.padding, self.data_format)

    def output_spatial_shape(self, spatial_shape):
        return tuple(None if n is None else n + b + a for n, (b, a) in zip(spatial_shape, self.padding))

    def get_config(self):
        config = super().get_config()
        config.update({"padding": self.padding})
        return config


@keras.saving.register_keras_serializable(package="structconv")
class CroppingND(SpatialLayerND):
    """Crops each spatial axis at both ends, any rank; for ranks 1-3 as `keras.layers.Cropping1D`/`2D`/`3D`.

    Args:
        cropping: as `padding` of `ZeroPaddingND`: entries removed before and after on each axis.
        data_format: `"channels_last"`, `"channels_first"`, or `None` for `keras.config.image_data_format()`.
        rank: keyword-only int, the number of spatial axes, when `cropping` is an int.

    Input shape:
        `(batch, *spatial, channels)` (channels_last) or `(batch, channels, *spatial)`.

    Output shape:
        The same layout, each spatial size reduced by its cropping (at least one entry must remain).

    Example:

    >>> import numpy as np
    >>> layer = CroppingND(1, rank=4)
    >>> tuple(layer(np.zeros((1, 5, 5, 5, 5, 2), "float32")).shape)
    (1, 3, 3, 3, 3, 2)
    """

    def __init__(self, cropping=1, data_format=None, *, rank=None, **kwargs):
        super().__init__(rank, cropping, "cropping", data_format, **kwargs)
        self.cropping = arithmetic.normalize_pad_widths(cropping, self.rank, "cropping")

    def call(self, inputs):
        return resampling.crop(inputs, self.cropping, self.data_format)

    def output_spatial_shape(self, spatial_shape):
        resampling.check_cropping(spatial_shape, self.cropping, self.cropping)
        return tuple(None if n is None else n - b - a for n, (b, a) in zip(spatial_shape, self.cropping))

    def get_config(self):
        config = super().get_config()
        config.update({"cropping": self.cropping})
        return config
