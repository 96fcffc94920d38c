"""Fixed-rank aliases of the N-D pooling, upsampling, padding and cropping layers.

Each is one line of logic, the rank; ranks 1-3 are drop-in replacements for Keras's layers of the same
names. Their docstrings point to the rank-generic class, which documents the arguments.
"""

import keras

from structconv.layers.global_pooling_nd import GlobalAveragePoolingND, GlobalMaxPoolingND
from structconv.layers.pooling_nd import AveragePoolingND, MaxPoolingND
from structconv.layers.resampling_nd import CroppingND, UpSamplingND, ZeroPaddingND

_register = keras.saving.register_keras_serializable(package="structconv")


@_register
class MaxPooling1D(MaxPoolingND):
    """As `MaxPoolingND` with `rank=1`: a drop-in replacement for `keras.layers.MaxPooling1D`."""

    fixed_rank = 1


@_register
class MaxPooling2D(MaxPoolingND):
    """As `MaxPoolingND` with `rank=2`: a drop-in replacement for `keras.layers.MaxPooling2D`."""

    fixed_rank = 2


@_register
class MaxPooling3D(MaxPoolingND):
    """As `MaxPoolingND` with `rank=3`: a drop-in replacement for `keras.layers.MaxPooling3D`."""

    fixed_rank = 3


@_register
class MaxPooling4D(MaxPoolingND):
    """As `MaxPoolingND` with `rank=4`."""

    fixed_rank = 4


@_register
class AveragePooling1D(AveragePoolingND):
    """As `AveragePoolingND` with `rank=1`: a drop-in replacement for `keras.layers.AveragePooling1D`."""

    fixed_rank = 1


@_register
class AveragePooling2D(AveragePoolingND):
    """As `AveragePoolingND` with `rank=2`: a drop-in replacement for `keras.layers.AveragePooling2D`."""

    fixed_rank = 2


@_register
class AveragePooling3D(AveragePoolingND):
    """As `AveragePoolingND` with `rank=3`: a drop-in replacement for `keras.layers.AveragePooling3D`."""

    fixed_rank = 3


@_register
class AveragePooling4D(AveragePoolingND):
    """As `AveragePoolingND` with `rank=4`."""

    fixed_rank = 4


@_register
class GlobalMaxPooling1D(GlobalMaxPoolingND):
    """As `GlobalMaxPoolingND` with `rank=1`: a drop-in replacement for `keras.layers.GlobalMaxPooling1D`."""

    fixed_rank = 1


@_register
class GlobalMaxPooling2D(GlobalMaxPoolingND):
    """As `GlobalMaxPoolingND` with `rank=2`: a drop-in replacement for `keras.layers.GlobalMaxPooling2D`."""

    fixed_rank = 2


@_register
class GlobalMaxPooling3D(GlobalMaxPoolingND):
    """As `GlobalMaxPoolingND` with `rank=3`: a drop-in replacement for `keras.layers.GlobalMaxPooling3D`."""

    fixed_rank = 3


@_register
class GlobalMaxPooling4D(GlobalMaxPoolingND):
    """As `GlobalMaxPoolingND` with `rank=4`."""

    fixed_rank = 4


@_register
class GlobalAveragePooling1D(GlobalAveragePoolingND):
    """As `GlobalAveragePoolingND` with `rank=1`: a drop-in replacement for
    `keras.layers.GlobalAveragePooling1D`."""

    fixed_rank = 1


@_register
class GlobalAveragePooling2D(GlobalAveragePoolingND):
    """As `GlobalAveragePoolingND` with `rank=2`: a drop-in replacement for
    `keras.layers.GlobalAveragePooling2D`."""

    fixed_rank = 2


@_register
class GlobalAveragePooling3D(GlobalAveragePoolingND):
    """As `GlobalAveragePoolingND` with `rank=3`: a drop-in replacement for
    `keras.layers.GlobalAveragePooling3D`."""

    fixed_rank = 3


@_register
class GlobalAveragePooling4D(GlobalAveragePoolingND):
    """As `GlobalAveragePoolingND` with `rank=4`."""

    fixed_rank = 4


@_register
class UpSampling1D(UpSamplingND):
    """As `UpSamplingND` with `rank=1`: a drop-in replacement for `keras.layers.UpSampling1D`."""

    fixed_rank = 1


@_register
class UpSampling2D(UpSamplingND):
    """As `UpSamplingND` with `rank=2`: a drop-in replacement for `keras.layers.UpSampling2D`."""

    fixed_rank = 2


@_register
class UpSampling3D(UpSamplingND):
    """As `UpSamplingND` with `rank=3`: a drop-in replacement for `keras.layers.UpSampling3D`."""

    fixed_rank = 3


@_register
class UpSampling4D(UpSamplingND):
    """As `UpSamplingND` with `rank=4`."""

    fixed_rank = 4


@_register
class ZeroPadding1D(ZeroPaddingND):
    """As `ZeroPaddingND` with `rank=1`: a drop-in replacement for `keras.layers.ZeroPadding1D`."""

    fixed_rank = 1


@_register
class ZeroPadding2D(ZeroPaddingND):
    """As `ZeroPaddingND` with `rank=2`: a drop-in replacement for `keras.layers.ZeroPadding2D`."""

    fixed_rank = 2


@_register
class ZeroPadding3D(ZeroPaddingND):
    """As `ZeroPaddingND` with `rank=3`: a drop-in replacement for `keras.layers.ZeroPadding3D`."""

    fixed_rank = 3


@_register
class ZeroPadding4D(ZeroPaddingND):
    """As `ZeroPaddingND` with `rank=4`."""

    fixed_rank = 4


@_register
class Cropping1D(CroppingND):
    """As `CroppingND` with `rank=1`: a drop-in replacement for `keras.layers.Cropping1D`."""

    fixed_rank = 1


@_register
class Cropping2D(CroppingND):
    """As `CroppingND` with `rank=2`: a drop-in replacement for `keras.layers.Cropping2D`.

    Its default `cropping` is Keras's for this class: none.
    """

    fixed_rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


@_register
class Cropping3D(CroppingND):
    """As `CroppingND` with `rank=3`: a drop-in replacement for `keras.layers.Cropping3D`."""

    fixed_rank = 3


@_register
class Cropping4D(CroppingND):
    """As `CroppingND` with `rank=4`."""

    fixed_rank = 4
