"""`ConvNDTranspose`: the N-dimensional transposed convolution layer."""

import keras

from structconv.errors import invalid_argument
from structconv.layers.base_conv import BaseConvND
from structconv.layers.plan_cache import cached_plan
from structconv.ops.conv_transpose import prepare_conv_transpose, run_conv_transpose
from structconv.shapes import arithmetic


@keras.saving.register_keras_serializable(package="structconv")
class ConvNDTranspose(BaseConvND):
    """N-dimensional transposed convolution layer: the adjoint of `ConvND`, for any number of axes.

    For ranks 1-3 and padding `"valid"` or `"same"` it is a drop-in replacement for
    `keras.layers.Conv1DTranspose`/`Conv2DTranspose`/`Conv3DTranspose`: same positional arguments, weights
    and outputs. Every padding form of `ConvND` is accepted and means the padding of the forward
    convolution this layer is the adjoint of.

    Args:
        filters: int, the number of output channels.
        kernel_size: int or tuple of `rank` ints. A tuple also sets `rank`.
        strides: int or tuple of `rank` ints >= 1.
        padding: as `ConvND`.
        output_padding: `None`, or an int or tuple of ints each smaller than its stride: extra length at
            the end of each output axis (see `structconv.shapes.conv_transpose_output_size`).
        data_format: `"channels_last"`, `"channels_first"`, or `None` for
            `keras.config.image_data_format()`.
        dilation_rate: int or tuple of `rank` ints >= 1.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
            activity_regularizer, kernel_constraint, bias_constraint: as in `keras.layers.Conv2DTranspose`.
        rank: keyword-only int, the number of spatial axes, when `kernel_size` is an int.
        kernel_parametrization: keyword-only: a `structconv.parametrizations` object, registry name
            (`"zero_sum"`, `"unit_norm"`, ...) or list of them. The kernel is then computed from the
            variable `free_kernel` in every call, so the constraint holds exactly (see `kernel`).
        algorithm: keyword-only, `"auto"` (default), `"direct"` or `"fft"`: see `structconv.ops.conv`.

    Input shape:
        `(batch, *spatial, channels)` (channels_last) or `(batch, channels, *spatial)`.

    Output shape:
        `(batch, *output_spatial, filters)` or channels_first.

    Example:

    >>> import numpy as np
    >>> layer = ConvNDTranspose(2, 3, rank=4, strides=2, padding="same")
    >>> tuple(layer(np.zeros((1, 4, 4, 4, 4, 3), "float32")).shape)
    (1, 8, 8, 8, 8, 2)
    >>> tuple(layer.kernel.shape)
    (3, 3, 3, 3, 2, 3)
    """

    transposed = True

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        output_padding=None,
        data_format=None,
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
        *,
        rank=None,
        kernel_parametrization=None,
        algorithm="auto",
        **kwargs,
    ):
        for name in ("groups", "padding_mode"):
            # BaseConvND takes them for ConvND; a transposed convolution has neither.
            if name in kwargs:
                raise invalid_argument(
                    name, kwargs[name], "no such argument: ConvNDTranspose has no groups or padding modes"
                )
        super().__init__(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
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
            rank=rank,
            kernel_parametrization=kernel_parametrization,
            algorithm=algorithm,
            output_padding=output_padding,
            **kwargs,
        )

    @property
    def output_padding(self):
        values = self.arguments.output_padding
        return None if values[0] is None else values

    def kernel_shape(self, input_channels):
        return (*self.kernel_size, self.filters, input_channels)

    def convolution_op(self, inputs, kernel):
        """Transposed convolution of `inputs` with `kernel`: the seam for kernel structure. The same as
        `structconv.ops.conv_transpose` with the layer's arguments; inside `call`, "auto" also knows from
        Keras's `training` flag whether the gradient will be taken."""
        inputs, kernel, problem, plan = cached_plan(self, inputs, kernel, prepare_conv_transpose)
        return run_conv_transpose(plan, problem, inputs, kernel, self.arguments)

    def output_spatial_shape(self, spatial_shape):
        args = self.arguments
        return tuple(
            arithmetic.conv_transpose_output_size(n, k, s, p, op, d)
            for n, k, s, p, op, d in zip(
                spatial_shape,
                self.kernel_size,
                args.strides,
                args.padding,
                args.output_padding,
                args.dilation_rate,
            )
        )

    def get_config(self):
        config = super().get_config()
        config["output_padding"] = self.output_padding
        return config
