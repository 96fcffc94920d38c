"""`ConvND`: the N-dimensional convolution layer."""

import keras

from structconv.layers.base_conv import BaseConvND
from structconv.layers.plan_cache import planned_conv


@keras.saving.register_keras_serializable(package="structconv")
class ConvND(BaseConvND):
    """N-dimensional convolution layer, for any number of spatial axes.

    For ranks 1-3 it is a drop-in replacement for `keras.layers.Conv1D`/`Conv2D`/`Conv3D`: the same
    positional arguments, the same weights (`kernel`, then `bias`) in the same layout, the same outputs. It
    adds any rank, `strides > 1` together with `dilation_rate > 1`, the padding forms `"full"`, `"causal"`,
    ints and per-axis tuples, and padding modes.

    Args:
        filters: int, the number of output channels.
        kernel_size: int or tuple of `rank` ints. A tuple also sets `rank`.
        strides: int or tuple of `rank` ints >= 1.
        padding: `"valid"`, `"same"`, `"full"`, `"causal"`, an int, or a tuple with one entry per spatial
            axis (a name, an int or a `(before, after)` pair). See `structconv.ops.conv`.
        data_format: `"channels_last"`, `"channels_first"`, or `None` for
            `keras.config.image_data_format()`.
        dilation_rate: int or tuple of `rank` ints >= 1.
        groups: int dividing the input channels and `filters`.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
            activity_regularizer, kernel_constraint, bias_constraint: as in `keras.layers.Conv2D`.
        rank: keyword-only int, the number of spatial axes, when `kernel_size` is an int.
        kernel_parametrization: keyword-only: a `structconv.parametrizations` object, registry name
            (`"zero_sum"`, `"unit_norm"`, ...) or list of them. The kernel is then computed from the
            variable `free_kernel` in every call, so the constraint holds exactly (see `kernel`).
        algorithm: keyword-only, `"auto"` (default), `"direct"` or `"fft"`: see `structconv.ops.conv`.
        padding_mode: keyword-only, `"zeros"`, `"reflect"`, `"replicate"` or `"circular"`.

    Input shape:
        `(batch, *spatial, channels)` (channels_last) or `(batch, channels, *spatial)`, `rank` spatial
        axes.

    Output shape:
        `(batch, *output_spatial, filters)` or channels_first, each output size given by
        `structconv.shapes.conv_output_size`.

    Example:

    >>> import numpy as np
    >>> layer = ConvND(8, 3, rank=4, strides=2, padding="same")
    >>> y = layer(np.zeros((2, 8, 8, 8, 8, 3), "float32"))
    >>> tuple(y.shape)
    (2, 4, 4, 4, 4, 8)
    >>> tuple(layer.kernel.shape)
    (3, 3, 3, 3, 3, 8)
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        groups=1,
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
        padding_mode="zeros",
        kernel_parametrization=None,
        algorithm="auto",
        **kwargs,
    ):
        super().__init__(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            groups=groups,
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
            padding_mode=padding_mode,
            **kwargs,
        )

    def kernel_shape(self, input_channels):
        return (*self.kernel_size, input_channels // self.groups, self.filters)

    def convolution_op(self, inputs, kernel):
        """Convolves `inputs` with `kernel`: the seam where kernel structure and algorithms plug in.

        The same as `structconv.ops.conv` with the layer's arguments: the same checks, planner and
        executor, the plan kept per input shape (`layers.plan_cache`); inside `call` the planner also
        knows from Keras's `training` flag whether the gradient will be taken.
        """
        return planned_conv(self, inputs, kernel)

    def get_config(self):
        config = super().get_config()
        config.update({"groups": self.groups, "padding_mode": self.padding_mode})
        return config
