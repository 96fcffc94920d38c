"""Fixed-rank aliases of `DepthwiseConvND` and `SeparableConvND` (one line of logic each: the rank)."""

import keras

from structconv.layers.depthwise_conv_nd import DepthwiseConvND
from structconv.layers.separable_conv_nd import SeparableConvND

_register = keras.saving.register_keras_serializable(package="structconv")


@_register
class DepthwiseConv1D(DepthwiseConvND):
    """As `DepthwiseConvND` with `rank=1`: a drop-in replacement for `keras.layers.DepthwiseConv1D`."""

    fixed_rank = 1


@_register
class DepthwiseConv2D(DepthwiseConvND):
    """As `DepthwiseConvND` with `rank=2`: a drop-in replacement for `keras.layers.DepthwiseConv2D`."""

    fixed_rank = 2


@_register
class DepthwiseConv3D(DepthwiseConvND):
    """As `DepthwiseConvND` with `rank=3`."""

    fixed_rank = 3


@_register
class DepthwiseConv4D(DepthwiseConvND):
    """As `DepthwiseConvND` with `rank=4`."""

    fixed_rank = 4


@_register
class SeparableConv1D(SeparableConvND):
    """As `SeparableConvND` with `rank=1`: a drop-in replacement for `keras.layers.SeparableConv1D`."""

    fixed_rank = 1


@_register
class SeparableConv2D(SeparableConvND):
    """As `SeparableConvND` with `rank=2`: a drop-in replacement for `keras.layers.SeparableConv2D`."""

    fixed_rank = 2


@_register
class SeparableConv3D(SeparableConvND):
    """As `SeparableConvND` with `rank=3`."""

    fixed_rank = 3


@_register
class SeparableConv4D(SeparableConvND):
    """As `SeparableConvND` with `rank=4`."""

    fixed_rank = 4
