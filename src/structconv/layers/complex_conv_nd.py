"""`ComplexConvND`: complex-valued N-dimensional convolution held in real variables."""

import keras
from keras import ops

from structconv.errors import invalid_argument
from structconv.initializers import ComplexInitializer
from structconv.layers.base_conv import BaseConvND
from structconv.ops.complex_conv import METHODS, complex_conv_with_arguments, join_complex, split_complex


def _real_shape(input_shape):
    """The shape of one part: `input_shape` itself, or the first of a `(real, imag)` pair of shapes."""
    if isinstance(input_shape, (tuple, list)) and input_shape and isinstance(input_shape[0], (tuple, list)):
        return tuple(input_shape[0])
    return tuple(input_shape)


class PartsRegularizer(keras.regularizers.Regularizer):
    """Applies `regularizer` to the real and imaginary parts of a complex tensor and adds the two penalties.

    Keras applies a layer's `activity_regularizer` to each output tensor as it is: on a complex tensor
    `l2` would give the complex number `sum(z^2)`. Through this wrapper it gives `sum(re^2) + sum(im^2)` =
    `sum(|z|^2)`, the same as for the `(real, imag)` pair, whose parts Keras regularizes one by one. The
    layers' configs store the wrapped regularizer, not the wrapper.
    """

    def __init__(self, regularizer):
        self.regularizer = regularizer

    def __call__(self, x):
        if "complex" in str(x.dtype):
            return self.regularizer(ops.real(x)) + self.regularizer(ops.imag(x))
        return self.regularizer(x)

    def get_config(self):
        return self.regularizer.get_config()


def complex_activity_regularizer(layer):
    """Wraps `layer.activity_regularizer` (if any) in a `PartsRegularizer`."""
    if layer.activity_regularizer is not None:
        layer.activity_regularizer = PartsRegularizer(layer.activity_regularizer)


def serialize_activity_regularizer(layer):
    regularizer = layer.activity_regularizer
    if isinstance(regularizer, PartsRegularizer):
        regularizer = regularizer.regularizer
    return keras.regularizers.serialize(regularizer)


@keras.saving.register_keras_serializable(package="structconv")
class ComplexConvND(BaseConvND):
    """Complex N-dimensional convolution: `(a + ib) * (c + id)` without hand-written four-way bookkeeping.

    The layer holds real variables only: `kernel`, the real view `(*kernel_size, in // groups, filters, 2)`
    of the complex kernel (real and imaginary parts last), and `bias`, `(filters, 2)`, a complex bias added
    to the complex output (`re += bias[:, 0]`, `im += bias[:, 1]`). `layer.kernel` returns the
    `(real, imag)` pair.

    Inputs are complex tensors or `(real, imag)` pairs (on every backend); the output takes the input's
    form. A parametrization acts on the real view of the kernel: `UnitModulus()` gives a phase-only kernel
    (`|kernel| = 1` at every tap, one phase per tap); `UnitNorm(axis=-1)` the same with two parameters per
    tap; `UnitNorm(axis=(0, ..., rank, rank + 2))` a unit norm per complex filter.

    Args:
        filters, kernel_size, strides, padding, data_format, dilation_rate, groups, use_bias: as `ConvND`
            (there is no `activation`: a complex output has no standard one).
        kernel_initializer: default `ComplexInitializer("glorot")` (Rayleigh modulus, uniform phase).
        bias_initializer, kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint: as
            `ConvND`, on the real views (with a parametrization, `kernel_regularizer` acts on the kernel it
            computes).
        activity_regularizer: as `ConvND`; on a complex output, the sum of its penalties on the real and
            imaginary parts (`"l2"`: `0.01 * sum(|z|^2)`), the same as on a pair output.
        rank, padding_mode, kernel_parametrization, algorithm: keyword-only, as `ConvND`.
        method: keyword-only, `"auto"`, `"naive"`, `"gauss"` or `"block"`: see `structconv.ops.complex_conv`.

    Input shape:
        A complex tensor or a pair of real tensors, each `(batch, *spatial, channels)` (or channels_first).

    Output shape:
        The same form, `(batch, *output_spatial, filters)` (or channels_first).

    Example:

    >>> import numpy as np
    >>> from structconv.parametrizations import UnitModulus
    >>> layer = ComplexConvND(4, 5, rank=2, padding="same", kernel_parametrization=UnitModulus())
    >>> x = np.random.rand(2, 16, 16, 1).astype("float32")
    >>> real, imag = layer((x, np.zeros_like(x)))
    >>> tuple(real.shape)
    (2, 16, 16, 4)
    >>> c, d = (keras.ops.convert_to_numpy(part) for part in layer.kernel)
    >>> bool(np.allclose(c ** 2 + d ** 2, 1.0, atol=1e-6))
    True
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
        use_bias=True,
        kernel_initializer="complex_glorot",
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
        method="auto",
        **kwargs,
    ):
        if kwargs.get("activation") is not None:
            raise invalid_argument(
                "activation",
                kwargs["activation"],
                "None: a complex output has no standard activation; apply one after `Intensity()` or to "
                "each part of a (real, imag) output",
            )
        kwargs.pop("activation", None)
        if kernel_initializer == "complex_glorot":
            kernel_initializer = ComplexInitializer("glorot")
        elif kernel_initializer == "complex_he":
            kernel_initializer = ComplexInitializer("he")
        super().__init__(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            groups=groups,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            rank=rank,
            padding_mode=padding_mode,
            kernel_parametrization=kernel_parametrization,
            algorithm=algorithm,
            **kwargs,
        )
        if not isinstance(method, str) or method.lower() not in METHODS:
            raise invalid_argument("method", method, " or ".join(repr(m) for m in METHODS))
        self.method = method.lower()
        complex_activity_regularizer(self)
        # Inputs may be (real, imag) pairs, which one InputSpec cannot describe.
        self.input_spec = None

    def kernel_shape(self, input_channels):
        return (*self.kernel_size, input_channels // self.groups, self.filters, 2)

    def bias_shape(self):
        return (self.filters, 2)

    def build(self, input_shape):
        super().build(_real_shape(input_shape))
        self.input_spec = None

    @property
    def kernel(self):
        """The complex kernel as a `(real, imag)` pair, each `(*kernel_size, in // groups, filters)`."""
        view = self._kernel_view()
        return view[..., 0], view[..., 1]

    def call(self, inputs, training=None):
        real, imag, as_pair = split_complex(inputs, "inputs")
        # The parts' dtype: the compute dtype for pairs (Keras casts them), float32 for complex64 inputs
        # (under mixed precision too), float64 for complex128.
        # The real view, read as `call` reads it (a parametrized kernel's regularizer penalises it).
        view = self._kernel_in_call()
        real_kernel, imag_kernel = (ops.cast(view[..., part], real.dtype) for part in (0, 1))
        # The op's seam, with Keras's training flag (only a Python bool can steer a plan made while tracing).
        hint = training if isinstance(training, bool) else None
        real, imag = complex_conv_with_arguments((real, imag), (real_kernel, imag_kernel), self.arguments,
                                                 self.method, hint)
        if self.use_bias:
            bias = ops.cast(self.bias, real.dtype)
            real = real + self._along_channels(bias[:, 0])
            imag = imag + self._along_channels(bias[:, 1])
        return join_complex(real, imag, as_pair)

    def compute_output_shape(self, input_shape):
        shape = super().compute_output_shape(_real_shape(input_shape))
        if _real_shape(input_shape) != tuple(input_shape):
            return (shape, shape)
        return shape

    def compute_output_spec(self, inputs):
        if isinstance(inputs, (tuple, list)):
            shape = self.compute_output_shape(tuple(inputs[0].shape))
            return tuple(keras.KerasTensor(shape, dtype=inputs[0].dtype) for _ in range(2))
        return keras.KerasTensor(self.compute_output_shape(tuple(inputs.shape)), dtype=inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config.pop("activation")
        config.update({"groups": self.groups, "padding_mode": self.padding_mode, "method": self.method,
                       "activity_regularizer": serialize_activity_regularizer(self)})
        return config


_register = keras.saving.register_keras_serializable(package="structconv")


@_register
class ComplexConv1D(ComplexConvND):
    """As `ComplexConvND` with `rank=1`."""

    fixed_rank = 1


@_register
class ComplexConv2D(ComplexConvND):
    """As `ComplexConvND` with `rank=2`."""

    fixed_rank = 2


@_register
class ComplexConv3D(ComplexConvND):
    """As `ComplexConvND` with `rank=3`."""

    fixed_rank = 3
