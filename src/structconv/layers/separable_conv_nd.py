"""`SeparableConvND`: a depthwise convolution followed by a pointwise (1 x ... x 1) one, any rank."""

import keras
from keras import ops

from structconv.errors import invalid_argument
from structconv.layers.depthwise_conv_nd import BaseDepthwiseConvND
from structconv.layers.kernel_weight import (
    KernelWeight,
    check_no_constraint,
    get_parametrization,
    serialize_parametrization,
)
from structconv.layers.plan_cache import planned_conv
from structconv.ops.arguments import conv_arguments


@keras.saving.register_keras_serializable(package="structconv")
class SeparableConvND(BaseDepthwiseConvND):
    """Depthwise separable convolution, any rank: `DepthwiseConvND`, then a pointwise convolution to
    `filters` channels.

    For ranks 1-2 a drop-in replacement for `keras.layers.SeparableConv1D`/`2D`: the same positional
    arguments, the same weights (`depthwise_kernel` `(*kernel_size, channels, depth_multiplier)`,
    `pointwise_kernel` `(1, ..., 1, channels * depth_multiplier, filters)`, `bias`) and outputs. Strides,
    dilation and padding apply to the depthwise step, as in Keras.

    Args:
        filters: int, the number of output channels.
        kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier: as `DepthwiseConvND`.
        activation, use_bias, depthwise_initializer, pointwise_initializer, bias_initializer,
            depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer,
            depthwise_constraint, pointwise_constraint, bias_constraint: as in `keras.layers.SeparableConv2D`.
        rank, padding_mode, algorithm: keyword-only, as `DepthwiseConvND` (`algorithm` is for the depthwise
            step; the pointwise one is a plain product).
        depthwise_parametrization, pointwise_parametrization: keyword-only parametrizations of each kernel
            (Keras layouts); their variables are then `free_depthwise_kernel` and `free_pointwise_kernel`.

    Input shape:
        `(batch, *spatial, channels)` (channels_last) or `(batch, channels, *spatial)`.

    Output shape:
        `(batch, *output_spatial, filters)` or channels_first, sizes as `ConvND`'s.

    Example:

    >>> import numpy as np
    >>> layer = SeparableConvND(6, (3, 3, 3, 3), strides=2, padding="same")
    >>> tuple(layer(np.zeros((1, 6, 6, 6, 6, 4), "float32")).shape)
    (1, 3, 3, 3, 3, 6)
    >>> [tuple(w.shape) for w in layer.weights]
    [(3, 3, 3, 3, 4, 1), (1, 1, 1, 1, 4, 6), (6,)]
    """

    depthwise_weight_name = "depthwise_kernel"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, *, rank=None,
                 padding_mode="zeros", depthwise_parametrization=None, pointwise_parametrization=None,
                 algorithm="auto", **kwargs):
        super().__init__(
            kernel_size, strides=strides, padding=padding, depth_multiplier=depth_multiplier,
            data_format=data_format, dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
            depthwise_initializer=depthwise_initializer, bias_initializer=bias_initializer,
            depthwise_regularizer=depthwise_regularizer, bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer, depthwise_constraint=depthwise_constraint,
            bias_constraint=bias_constraint, rank=rank, padding_mode=padding_mode,
            depthwise_parametrization=depthwise_parametrization, algorithm=algorithm, **kwargs,
        )
        if not isinstance(filters, int) or isinstance(filters, bool) or filters < 1:
            raise invalid_argument("filters", filters, "an int >= 1")
        self.filters = filters
        self.pointwise_initializer = keras.initializers.get(pointwise_initializer)
        self.pointwise_regularizer = keras.regularizers.get(pointwise_regularizer)
        self.pointwise_constraint = keras.constraints.get(pointwise_constraint)
        self.pointwise_parametrization = get_parametrization(
            pointwise_parametrization, "pointwise_parametrization"
        )
        check_no_constraint(pointwise_constraint, "pointwise_constraint", self.pointwise_parametrization)

    def build_pointwise(self, channels):
        # A plain product over channels: direct (an FFT of a 1 x ... x 1 kernel never pays).
        self.pointwise_arguments = conv_arguments(self.rank, data_format=self.data_format, algorithm="direct")
        self._pointwise = KernelWeight(
            self, "pointwise_kernel", (1,) * self.rank + (channels, self.filters), self.pointwise_initializer,
            self.pointwise_regularizer, self.pointwise_constraint, self.pointwise_parametrization,
        )

    @property
    def pointwise_kernel(self):
        """The pointwise kernel `(1, ..., 1, channels * depth_multiplier, filters)`."""
        if not self.built:
            raise AttributeError("The layer must be built before its kernels are read.")
        return self._pointwise.value

    def assign_pointwise_kernel(self, values, *, project=False):
        """Sets the effective pointwise kernel (see `ConvND.assign_kernel`)."""
        self._pointwise.assign(values, project=project)

    def output_channels(self, channels):
        return self.filters

    def convolution_op(self, inputs):
        depthwise = self.depthwise_op(inputs)
        pointwise = ops.cast(self._pointwise.value_in_call(), self.compute_dtype)
        return planned_conv(self, depthwise, pointwise, self.pointwise_arguments)

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "pointwise_initializer": keras.initializers.serialize(self.pointwise_initializer),
            "pointwise_regularizer": keras.regularizers.serialize(self.pointwise_regularizer),
            "pointwise_constraint": keras.constraints.serialize(self.pointwise_constraint),
            "pointwise_parametrization": serialize_parametrization(self.pointwise_parametrization),
        })
        return config
