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
    """As `ConvNDTranspose` with `rank=3`: a drop-in replacement for `keras.layers.Conv3DTranspose`.

    Keras orders this class's positional arguments differently from its 1-D and 2-D siblings
    (`data_format` before `output_padding`); so does this one, to stay a drop-in replacement.
    """

    fixed_rank = 3

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        output_padding=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            output_padding=output_padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            **kwargs,
        )


@_register
class Conv4DTranspose(ConvNDTranspose):
    """As `ConvNDTranspose` with `rank=4`."""

    fixed_rank = 4
