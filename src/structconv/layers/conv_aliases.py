"""Fixed-rank aliases of `ConvND` and `ConvNDTranspose`.

They live in one file because each is one line of logic: the rank. Their docstrings point to the
rank-generic class, which documents the arguments.
"""

import keras

from structconv.layers.conv_nd import ConvND
from structconv.layers.conv_nd_transpose import ConvNDTranspose

_register = keras.saving.register_keras_serializable(package="structconv")


@_register
class Conv1D(ConvND):
    """As `ConvND` with `rank=1`: a drop-in replacement for `keras.layers.Conv1D`."""

    fixed_rank = 1


@_register
class Conv2D(ConvND):
    """As `ConvND` with `rank=2`: a drop-in replacement for `keras.layers.Conv2D`."""

    fixed_rank = 2


@_register
class Conv3D(ConvND):
    """As `ConvND` with `rank=3`: a drop-in replacement for `keras.layers.Conv3D`."""

    fixed_rank = 3


@_register
class Conv4D(ConvND):
    """As `ConvND` with `rank=4`: 4-D convolution (for example space-time volumes or light fields)."""

    fixed_rank = 4


@_register
class Conv1DTranspose(ConvNDTranspose):
    """As `ConvNDTranspose` with `rank=1`: a drop-in replacement for `keras.layers.Conv1DTranspose`."""

    fixed_rank = 1


@_register
class Conv2DTranspose(ConvNDTranspose):
    """As `ConvNDTranspose` with `rank=2`: a drop-in replacement for `keras.layers.Conv2DTranspose`."""

    fixed_rank = 2


@_register
class Conv3DTranspose(ConvNDTranspose):
    """As `ConvNDTranspose` with `rank=3`: a drop-in replacement for `keras.layers.Conv3DTranspose`."""

    fixed_rank = 3


@_register
class Conv4DTranspose(ConvNDTranspose):
    """As `ConvNDTranspose` with `rank=4`."""

    fixed_rank = 4
