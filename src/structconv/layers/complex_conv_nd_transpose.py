"""`ComplexConvNDTranspose`: complex-valued N-dimensional transposed convolution held in real variables."""

import keras
from keras import ops

from structconv.errors import invalid_argument
from structconv.initializers import ComplexInitializer
from structconv.layers.complex_conv_nd import complex_activity_regularizer, serialize_activity_regularizer
from structconv.layers.complex_forms import part_shape, same_form_spec
from structconv.layers.conv_nd_transpose import ConvNDTranspose
from structconv.ops.complex_conv import METHODS, join_complex, split_complex
from structconv.ops.complex_conv_transpose import complex_conv_transpose


@keras.saving.register_keras_serializable(package="structconv")
class ComplexConvNDTranspose(ConvNDTranspose):
    """Complex N-dimensional transposed convolution: the adjoint of `ComplexConvND` (no conjugate).

    As `ComplexConvND`, the layer holds real variables only: `kernel`, the real view
    `(*kernel_size, filters, in_channels, 2)` (`layer.kernel` gives the `(real, imag)` pair) and `bias`,
    `(filters, 2)`. Inputs are complex tensors or `(real, imag)` pairs; the output takes the input's form.

    Args:
        filters, kernel_size, strides, padding, output_padding, data_format, dilation_rate, use_bias,
            bias_initializer, kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint: as
            `ConvNDTranspose`, on the real views (no `activation`).
        kernel_initializer: default `"complex_glorot"` (or `"complex_he"`, or any initializer of the view).
        activity_regularizer: on a complex output, the sum of its penalties on the two parts.
        rank, kernel_parametrization, algorithm: keyword-only, as `ConvNDTranspose` (a parametrization
            acts on the real view: `UnitModulus()` gives a phase-only kernel).
        method: keyword-only, as `structconv.ops.complex_conv`.

    Input shape:
        A complex tensor or a pair, each `(batch, *spatial, channels)` (or channels_first).

    Output shape:
        The same form, `(batch, *output_spatial, filters)` (or channels_first).

    Example:

    >>> import numpy as np
    >>> layer = ComplexConvNDTranspose(3, 3, rank=2, strides=2, padding="same")
    >>> real, imag = layer((np.ones((1, 4, 4, 2), "float32"), np.zeros((1, 4, 4, 2), "float32")))
    >>> tuple(real.shape)
    (1, 8, 8, 3)
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, use_bias=True, kernel_initializer="complex_glorot",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, *, rank=None,
                 kernel_parametrization=None, algorithm="auto", method="auto", **kwargs):
        if kwargs.get("activation") is not None:
            raise invalid_argument("activation", kwargs["activation"],
                                   "None: a complex output has no standard activation")
        kwargs.pop("activation", None)
        if kernel_initializer in ("complex_glorot", "complex_he"):
            kernel_initializer = ComplexInitializer(kernel_initializer.split("_")[1])
        super().__init__(
            filters, kernel_size, strides=strides, padding=padding, output_padding=output_padding,
            data_format=data_format, dilation_rate=dilation_rate, use_bias=use_bias,
            kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint, rank=rank, kernel_parametrization=kernel_parametrization,
            algorithm=algorithm, **kwargs)
        if not isinstance(method, str) or method.lower() not in METHODS:
            raise invalid_argument("method", method, " or ".join(repr(m) for m in METHODS))
        self.method = method.lower()
        complex_activity_regularizer(self)
        self.input_spec = None  # pairs cannot be described by one InputSpec

    def kernel_shape(self, input_channels):
        return (*self.kernel_size, self.filters, input_channels, 2)

    def bias_shape(self):
        return (self.filters, 2)

    def build(self, input_shape):
        super().build(part_shape(input_shape))
        self.input_spec = None

    @property
    def kernel(self):
        """The complex kernel as a `(real, imag)` pair, each `(*kernel_size, filters, in_channels)`."""
        view = self._kernel_view()
        return view[..., 0], view[..., 1]

    def call(self, inputs):
        args = self.arguments
        real, imag, as_pair = split_complex(inputs, "inputs")
        view = self._kernel_in_call()  # as ComplexConvND.call reads it
        kernel = tuple(ops.cast(view[..., part], real.dtype) for part in (0, 1))
        real, imag = complex_conv_transpose(
            (real, imag), kernel, strides=args.strides, padding=args.padding,
            output_padding=self.output_padding, dilation_rate=args.dilation_rate,
            data_format=args.data_format, algorithm=args.algorithm, method=self.method)
        if self.use_bias:
            bias = ops.cast(self.bias, real.dtype)
            real = real + self._along_channels(bias[:, 0])
            imag = imag + self._along_channels(bias[:, 1])
        return join_complex(real, imag, as_pair)

    def compute_output_shape(self, input_shape):
        shape = super().compute_output_shape(part_shape(input_shape))
        return (shape, shape) if part_shape(input_shape) != tuple(input_shape) else shape

    def compute_output_spec(self, inputs):
        first = inputs[0] if isinstance(inputs, (tuple, list)) else inputs
        return same_form_spec(inputs, super().compute_output_shape(tuple(first.shape)))

    def get_config(self):
        config = super().get_config()
        config.pop("activation")
        config.update({"method": self.method, "activity_regularizer": serialize_activity_regularizer(self)})
        return config


_register = keras.saving.register_keras_serializable(package="structconv")


@_register
class ComplexConv1DTranspose(ComplexConvNDTranspose):
    """As `ComplexConvNDTranspose` with `rank=1`."""

    fixed_rank = 1


@_register
class ComplexConv2DTranspose(ComplexConvNDTranspose):
    """As `ComplexConvNDTranspose` with `rank=2`."""

    fixed_rank = 2


@_register
class ComplexConv3DTranspose(ComplexConvNDTranspose):
    """As `ComplexConvNDTranspose` with `rank=3`."""

    fixed_rank = 3
