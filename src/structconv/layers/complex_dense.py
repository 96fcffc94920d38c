"""`ComplexDense`: a fully connected complex layer held in real variables."""

import keras
from keras import ops

from structconv.initializers import ComplexInitializer
from structconv.layers.complex_conv_nd import complex_activity_regularizer, serialize_activity_regularizer
from structconv.layers.complex_forms import part_shape, same_form_spec
from structconv.ops.complex_conv import join_complex, split_complex
from structconv.ops.complex_matmul import complex_matmul

_INITIALIZERS = {"complex_glorot": "glorot", "complex_he": "he"}


@keras.saving.register_keras_serializable(package="structconv")
class ComplexDense(keras.layers.Layer):
    """`z @ W + b` for a complex input `z`, complex kernel `W` and complex bias `b`.

    As `ComplexConvND`, the layer holds real variables only: `kernel`, the real view `(in, units, 2)` of the
    complex kernel (`layer.kernel` gives the `(real, imag)` pair) and `bias`, `(units, 2)`.

    Args:
        units: the number of complex outputs.
        use_bias: whether to add the complex bias.
        kernel_initializer: default `"complex_glorot"` (Rayleigh modulus, uniform phase; `"complex_he"`), or
            any initializer of the real view.
        bias_initializer, kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint: as
            `keras.layers.Dense`, on the real views.
        activity_regularizer: on a complex output, the sum of its penalties on the two parts.

    Input shape:
        A complex tensor or a `(real, imag)` pair, each `(..., features)`.

    Output shape:
        The same form, `(..., units)`.

    Example:

    >>> import numpy as np
    >>> real, imag = ComplexDense(3)((np.ones((2, 5), "float32"), np.zeros((2, 5), "float32")))
    >>> tuple(real.shape), tuple(imag.shape)
    ((2, 3), (2, 3))
    """

    def __init__(self, units, use_bias=True, kernel_initializer="complex_glorot", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = int(units)
        self.use_bias = bool(use_bias)
        self._kernel_initializer_name = kernel_initializer if kernel_initializer in _INITIALIZERS else None
        if self._kernel_initializer_name:
            kernel_initializer = ComplexInitializer(_INITIALIZERS[kernel_initializer])
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        complex_activity_regularizer(self)

    def build(self, input_shape):
        features = part_shape(input_shape)[-1]
        self._kernel = self.add_weight(
            name="kernel", shape=(features, self.units, 2), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.units, 2), initializer=self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    @property
    def kernel(self):
        """The complex kernel as a `(real, imag)` pair, each `(in, units)`."""
        return self._kernel[..., 0], self._kernel[..., 1]

    def call(self, inputs):
        real, imag, as_pair = split_complex(inputs, "inputs")
        kernel = tuple(ops.cast(part, real.dtype) for part in self.kernel)
        real, imag = complex_matmul((real, imag), kernel)
        if self.use_bias:
            bias = ops.cast(self.bias, real.dtype)
            real, imag = real + bias[:, 0], imag + bias[:, 1]
        return join_complex(real, imag, as_pair)

    def compute_output_spec(self, inputs):
        shape = part_shape(inputs[0].shape if isinstance(inputs, (tuple, list)) else inputs.shape)
        return same_form_spec(inputs, (*shape[:-1], self.units))

    def get_config(self):
        initializer = self._kernel_initializer_name or keras.initializers.serialize(self.kernel_initializer)
        return {
            **super().get_config(), "units": self.units, "use_bias": self.use_bias,
            "kernel_initializer": initializer,
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": serialize_activity_regularizer(self),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
        }
