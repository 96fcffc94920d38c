"""What `ConvND` and `ConvNDTranspose` share: arguments, variables, bias, activation and config."""

import keras
from keras import ops

from structconv.errors import invalid_argument
from structconv.layers.conv_attributes import ConvAttributes
from structconv.layers.kernel_weight import KernelWeight, check_no_constraint, get_parametrization
from structconv.layers.lora import LowRankAdaptation
from structconv.layers.plan_cache import call_with_training_hint
from structconv.ops.arguments import conv_arguments, resolve_rank, split_shape
from structconv.shapes import arithmetic
from structconv.shapes.explain import explain_conv


class BaseConvND(ConvAttributes, LowRankAdaptation, keras.layers.Layer):
    """Common base of the structconv convolution layers; not meant to be used directly.

    Subclasses define `kernel_shape(input_channels)` and `convolution_op(inputs, kernel)`; transposed ones
    also `output_spatial_shape(spatial_shape)`.
    """

    fixed_rank = None
    transposed = False

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
        output_padding=None,
        kernel_parametrization=None,
        algorithm="auto",
        lora_rank=None,
        lora_alpha=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._init_lora(lora_rank, lora_alpha)
        self.rank = resolve_rank(rank, kernel_size, "kernel_size", self.fixed_rank)
        if not isinstance(filters, int) or isinstance(filters, bool) or filters < 1:
            raise invalid_argument("filters", filters, "an int >= 1")
        self.filters = filters
        self.kernel_size = arithmetic.normalize_tuple(kernel_size, self.rank, "kernel_size")
        self.arguments = conv_arguments(
            self.rank,
            strides,
            padding,
            dilation_rate,
            groups,
            data_format,
            padding_mode,
            output_padding,
            default_data_format=keras.config.image_data_format(),
            algorithm=algorithm,
        )
        if filters % self.arguments.groups:
            raise invalid_argument("groups", groups, f"a divisor of filters ({filters})")
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.kernel_parametrization = get_parametrization(kernel_parametrization, "kernel_parametrization")
        check_no_constraint(kernel_constraint, "kernel_constraint", self.kernel_parametrization)
        self.input_spec = keras.InputSpec(ndim=self.rank + 2)

    groups = property(lambda self: self.arguments.groups)

    def build(self, input_shape):
        _, channels = split_shape(input_shape, self.data_format)
        if channels is None:
            raise invalid_argument(
                "input_shape", tuple(input_shape), "a known number of channels"
            )
        if not self.transposed and channels % self.groups:
            raise invalid_argument(
                "groups", self.groups, f"a divisor of the input's {channels} channels"
            )
        self.input_spec = keras.InputSpec(
            ndim=self.rank + 2, axes={self._channel_axis(): channels}
        )
        # As Keras: an input too small for the kernel is refused when the layer is built (also symbolically).
        BaseConvND.compute_output_shape(self, tuple(input_shape))
        self._kernel_weight = KernelWeight(
            self, "kernel", self.kernel_shape(channels), self.kernel_initializer, self.kernel_regularizer,
            self.kernel_constraint, self.kernel_parametrization,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=self.bias_shape(),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                trainable=True,
                dtype=self.dtype,
            )
        else:
            self.bias = None
        self.built = True
        if self.lora_rank:
            self.enable_lora(self.lora_rank, lora_alpha=self.lora_alpha)

    def bias_shape(self):
        return (self.filters,)

    @property
    def _kernel(self):
        """The plain kernel's variable, by Keras's name (as `keras.layers.Conv2D`'s); a layer with a
        `kernel_parametrization` has `free_kernel` instead."""
        if self.kernel_parametrization is not None:
            raise AttributeError("A layer with a `kernel_parametrization` has `free_kernel`, not `_kernel`.")
        return self._kernel_weight.variable

    @property
    def free_kernel(self):
        """The free variable of a parametrized kernel (for `Mask` only the free entries, so parameter counts
        are honest); a plain layer has `_kernel` instead."""
        if self.kernel_parametrization is None:
            raise AttributeError("Only a layer with a `kernel_parametrization` has `free_kernel`.")
        return self._kernel_weight.variable

    @property
    def kernel(self):
        """The kernel the layer convolves with, in Keras layout (computed from `free_kernel` when the layer
        has a `kernel_parametrization`)."""
        return self._kernel_view()

    def _kernel_view(self):
        """The effective kernel in the variable's layout (a complex layer's real view), LoRA's update in."""
        if not self.built:
            raise AttributeError("The layer must be built before its `kernel` is read.")
        if not self.lora_enabled:
            return self._kernel_weight.value
        merged = self._lora_merged_base()
        if self.kernel_parametrization is None:
            # As Keras: the sum (float32 with the update) cast to the compute dtype.
            return ops.cast(merged, self.compute_dtype)
        return self._kernel_weight.value_from(merged)

    def _kernel_in_call(self):
        """`_kernel_view()`, read inside `call`: a parametrized kernel's regularizer penalises it there."""
        kernel = self._kernel_view()
        self._kernel_weight.penalize(kernel)
        return kernel

    def assign_kernel(self, values, *, project=False):
        """Sets the layer's effective kernel to `values` (Keras layout).

        With a `kernel_parametrization`, `values` must satisfy it (else a `StructconvError`), or be
        projected onto it first with `project=True`.
        """
        if not self.built:
            raise AttributeError("The layer must be built before `assign_kernel`.")
        self._kernel_weight.assign(values, project=project)

    def call(self, inputs, training=None):
        return call_with_training_hint(self, training, self._call, inputs)

    def _call(self, inputs):
        kernel = self._kernel_in_call()
        outputs = self.convolution_op(inputs, ops.cast(kernel, self.compute_dtype))
        return self._bias_and_activation(outputs)

    def output_spatial_shape(self, spatial_shape):
        """Output sizes of a forward convolution (`ConvNDTranspose` overrides it)."""
        args = self.arguments
        for axis, (size, k, s, d, entry) in enumerate(
            zip(spatial_shape, self.kernel_size, args.strides, args.dilation_rate, args.padding)
        ):
            explanation = None if size is None else explain_conv(size, k, s, entry, d)
            if explanation is not None and explanation.size == 0:  # worded as `structconv shapes` words it
                raise invalid_argument(
                    "input_shape",
                    f"spatial sizes {tuple(spatial_shape)}",
                    f"inputs that layer {self.name!r} (kernel_size={self.kernel_size}) has room for",
                    detail=f"Along spatial axis {axis}, its window spans {explanation.extent} inputs, more "
                    f"than the padded input holds: {explanation.formula}.",
                )
        return arithmetic.conv_output_shape(
            spatial_shape, self.kernel_size, args.strides, args.padding, args.dilation_rate
        )

    def compute_output_shape(self, input_shape):
        spatial, _ = split_shape(tuple(input_shape), self.data_format)
        if len(input_shape) != self.rank + 2:
            raise invalid_argument(
                "input_shape", tuple(input_shape), f"a shape of rank {self.rank + 2}"
            )
        if any(size is not None and size < 1 for size in spatial):
            raise invalid_argument(
                "input_shape", tuple(input_shape), "at least one entry on every spatial axis"
            )
        output_spatial = self.output_spatial_shape(spatial)
        if any(size is not None and size < 1 for size in output_spatial):
            raise invalid_argument(
                "input_shape", tuple(input_shape), "an input with at least one output on every spatial axis"
            )
        if self.data_format == "channels_last":
            return (input_shape[0], *output_spatial, self.filters)
        return (input_shape[0], self.filters, *output_spatial)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "rank": self.rank,
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "data_format": self.data_format,
                "dilation_rate": self.dilation_rate,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": keras.regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
                "algorithm": self.algorithm,
                "kernel_parametrization": (
                    None
                    if self.kernel_parametrization is None
                    else keras.saving.serialize_keras_object(self.kernel_parametrization)
                ),
                **self._lora_config(),
            }
        )
        return config
