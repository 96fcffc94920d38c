"""`DepthwiseConvND`: one kernel per input channel (times `depth_multiplier`), any rank, on `ops.conv`."""

import dataclasses

import keras
from keras import ops

from structconv.errors import invalid_argument
from structconv.layers.conv_attributes import ConvAttributes
from structconv.layers.kernel_weight import (
    KernelWeight,
    check_no_constraint,
    get_parametrization,
    serialize_parametrization,
)
from structconv.layers.plan_cache import call_with_training_hint, planned_conv
from structconv.ops.arguments import conv_arguments, join_shape, resolve_rank, split_shape
from structconv.shapes import arithmetic


class BaseDepthwiseConvND(ConvAttributes, keras.layers.Layer):
    """What `DepthwiseConvND` and `SeparableConvND` share; not meant to be used directly."""

    fixed_rank = None

    # DepthwiseConv2D's argument order; `DepthwiseConvND` uses this constructor as it is.
    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, *, rank=None,
                 padding_mode="zeros", depthwise_parametrization=None, algorithm="auto", **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.rank = resolve_rank(rank, kernel_size, "kernel_size", self.fixed_rank)
        self.kernel_size = arithmetic.normalize_tuple(kernel_size, self.rank, "kernel_size")
        self.depth_multiplier = arithmetic.normalize_tuple(depth_multiplier, 1, "depth_multiplier")[0]
        self.arguments = conv_arguments(
            self.rank, strides, padding, dilation_rate, 1, data_format, padding_mode,
            default_data_format=keras.config.image_data_format(), algorithm=algorithm,
        )
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = keras.initializers.get(depthwise_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.depthwise_regularizer = keras.regularizers.get(depthwise_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.depthwise_constraint = keras.constraints.get(depthwise_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.depthwise_parametrization = get_parametrization(
            depthwise_parametrization, "depthwise_parametrization"
        )
        check_no_constraint(depthwise_constraint, "depthwise_constraint", self.depthwise_parametrization)
        self.input_spec = keras.InputSpec(ndim=self.rank + 2)

    def build(self, input_shape):
        _, channels = split_shape(tuple(input_shape), self.data_format)
        if channels is None:
            raise invalid_argument("input_shape", tuple(input_shape), "a known number of channels")
        self.input_spec = keras.InputSpec(ndim=self.rank + 2, axes={self._channel_axis(): channels})
        self.depthwise_shape = (*self.kernel_size, int(channels), self.depth_multiplier)
        # The depthwise step is a grouped `ops.conv`, one group per input channel.
        self.grouped_arguments = dataclasses.replace(self.arguments, groups=int(channels))
        self._depthwise = KernelWeight(
            self, self.depthwise_weight_name, self.depthwise_shape,
            self.depthwise_initializer, self.depthwise_regularizer, self.depthwise_constraint,
            self.depthwise_parametrization,
        )
        self.build_pointwise(channels * self.depth_multiplier)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.output_channels(channels),), initializer=self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint, trainable=True,
                dtype=self.dtype,
            )

    def build_pointwise(self, channels):
        """Separable layers add their pointwise kernel here."""

    @property
    def depthwise_kernel(self):
        """The depthwise kernel `(*kernel_size, channels, depth_multiplier)` (computed from its free
        variable under `depthwise_parametrization`)."""
        if not self.built:
            raise AttributeError("The layer must be built before its kernels are read.")
        return self._depthwise.value

    def assign_depthwise_kernel(self, values, *, project=False):
        """Sets the effective depthwise kernel (see `ConvND.assign_kernel`)."""
        self._depthwise.assign(values, project=project)

    def depthwise_op(self, inputs):
        """The depthwise step: a grouped convolution through `ops.conv`'s seam (its checks, planner and
        executor, the plan kept per input shape as `ConvND` keeps it). The Keras kernel
        `(*k, channels, multiplier)` is the grouped kernel `(*k, 1, channels * multiplier)`, output channel
        `c * multiplier + m` as in Keras (the layer's `depthwise_shape`, not the tensor's: its sizes are
        tensors when torch traces for ONNX)."""
        *kernel_size, channels, multiplier = self.depthwise_shape
        kernel = ops.reshape(ops.cast(self._depthwise.value_in_call(), self.compute_dtype),
                             (*kernel_size, 1, channels * multiplier))
        return planned_conv(self, inputs, kernel, self.grouped_arguments)

    def call(self, inputs, training=None):
        return call_with_training_hint(self, training, self._call, inputs)

    def _call(self, inputs):
        return self._bias_and_activation(self.convolution_op(inputs))

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise invalid_argument("input_shape", input_shape, f"a shape of rank {self.rank + 2}")
        spatial, channels = split_shape(input_shape, self.data_format)
        args = self.arguments
        output = arithmetic.conv_output_shape(
            spatial, self.kernel_size, args.strides, args.padding, args.dilation_rate
        )
        channels = None if channels is None else self.output_channels(channels)
        return join_shape(input_shape[0], output, channels, self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({
            "rank": self.rank,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "depth_multiplier": self.depth_multiplier,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "depthwise_initializer": keras.initializers.serialize(self.depthwise_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "depthwise_regularizer": keras.regularizers.serialize(self.depthwise_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": keras.regularizers.serialize(self.activity_regularizer),
            "depthwise_constraint": keras.constraints.serialize(self.depthwise_constraint),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            "padding_mode": self.padding_mode,
            "depthwise_parametrization": serialize_parametrization(self.depthwise_parametrization),
            "algorithm": self.algorithm,
        })
        return config


@keras.saving.register_keras_serializable(package="structconv")
class DepthwiseConvND(BaseDepthwiseConvND):
    """Depthwise convolution, any rank: each input channel convolved with its own `depth_multiplier`
    kernels.

    For ranks 1-2 a drop-in replacement for `keras.layers.DepthwiseConv1D`/`2D` (same positional arguments,
    the same weights `kernel` of shape `(*kernel_size, channels, depth_multiplier)` then `bias`, the same
    outputs, output channel `c * depth_multiplier + m`). It runs `structconv.ops.conv` with
    `groups=channels`, so it has every feature of `ConvND`.

    Args:
        kernel_size: int or tuple of `rank` ints. A tuple also sets `rank`.
        strides, padding, data_format, dilation_rate: as `ConvND` (every padding form; dilation together
            with strides).
        depth_multiplier: int >= 1, the kernels per input channel.
        activation, use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer,
            bias_regularizer, activity_regularizer, depthwise_constraint, bias_constraint: as in
            `keras.layers.DepthwiseConv2D`.
        rank: keyword-only int, the number of spatial axes, when `kernel_size` is an int.
        padding_mode: keyword-only, `"zeros"`, `"reflect"`, `"replicate"` or `"circular"`.
        depthwise_parametrization: keyword-only: a `structconv.parametrizations` object, registry name or
            list, for the depthwise kernel (Keras layout); the variable is then `free_kernel`.
        algorithm: keyword-only, `"auto"`, `"direct"` or `"fft"`: see `structconv.ops.conv`.

    Input shape:
        `(batch, *spatial, channels)` (channels_last) or `(batch, channels, *spatial)`.

    Output shape:
        `(batch, *output_spatial, channels * depth_multiplier)` or channels_first, sizes as `ConvND`'s.

    Example:

    >>> import numpy as np
    >>> layer = DepthwiseConvND((3, 3, 3, 3), padding="same", depth_multiplier=2)
    >>> tuple(layer(np.zeros((1, 5, 5, 5, 5, 4), "float32")).shape)
    (1, 5, 5, 5, 5, 8)
    >>> tuple(layer.kernel.shape)
    (3, 3, 3, 3, 4, 2)
    """

    depthwise_weight_name = "kernel"

    @property
    def kernel(self):
        """Keras's name for the depthwise kernel of `DepthwiseConv2D`."""
        return self.depthwise_kernel

    def output_channels(self, channels):
        return channels * self.depth_multiplier

    def convolution_op(self, inputs):
        return self.depthwise_op(inputs)
