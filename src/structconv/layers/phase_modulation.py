"""`PhaseModulation`: a learned elementwise phase `exp(i * phi)`, as a spatial light modulator applies."""

import keras
from keras import ops

from structconv.errors import invalid_argument
from structconv.layers.complex_conv_nd import complex_activity_regularizer, serialize_activity_regularizer
from structconv.ops.complex_conv import cos_sin, join_complex, split_complex


@keras.saving.register_keras_serializable(package="structconv")
class PhaseModulation(keras.layers.Layer):
    """Multiplies its input by `exp(i * phi)` elementwise, with a trainable phase `phi` (variable `phase`).

    A real input `x` becomes `(x cos(phi), x sin(phi))`; a complex input is multiplied as a complex number.

    Args:
        output_form: `"pair"` (default) to return `(real, imag)`, or `"complex"` for a complex tensor.
            Complex inputs keep their form.
        phase_initializer: initializer of `phi` (default zeros: the identity).
        **kwargs: as for any Keras layer; an `activity_regularizer` penalises a complex output through its
            real and imaginary parts, as `ComplexConvND` does.

    Input shape:
        Any shape `(batch, ...)`; `phi` has the shape of one example.

    Output shape:
        The same, as a pair or a complex tensor.

    Example:

    >>> import keras, numpy as np
    >>> real, imag = PhaseModulation()(np.ones((2, 4, 4, 1), "float32"))
    >>> float(keras.ops.sum(real)), float(keras.ops.sum(imag))
    (32.0, 0.0)
    """

    def __init__(self, output_form="pair", phase_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if output_form not in ("pair", "complex"):
            raise invalid_argument("output_form", output_form, "'pair' or 'complex'")
        self.output_form = output_form
        self.phase_initializer = keras.initializers.get(phase_initializer)
        complex_activity_regularizer(self)

    def build(self, input_shape):
        if input_shape and isinstance(input_shape[0], (tuple, list)):  # a (real, imag) pair of shapes
            input_shape = input_shape[0]
        self.phase = self.add_weight(
            name="phase", shape=tuple(input_shape[1:]), initializer=self.phase_initializer,
            autocast=False,  # mixed precision: cos and sin of the float32 phase, then cast
        )

    def call(self, inputs):
        cos, sin = cos_sin(self.phase)
        if isinstance(inputs, (tuple, list)) or "complex" in str(getattr(inputs, "dtype", "")):
            real, imag, as_pair = split_complex(inputs, "inputs")
            cos, sin = ops.cast(cos, real.dtype), ops.cast(sin, real.dtype)
            return join_complex(real * cos - imag * sin, real * sin + imag * cos, as_pair)
        cos, sin = ops.cast(cos, inputs.dtype), ops.cast(sin, inputs.dtype)
        return join_complex(inputs * cos, inputs * sin, self.output_form == "pair")

    def compute_output_spec(self, inputs):
        if isinstance(inputs, (tuple, list)):
            return tuple(keras.KerasTensor(inputs[0].shape, dtype=inputs[0].dtype) for _ in range(2))
        if "complex" in str(inputs.dtype) or self.output_form == "complex":
            dtype = inputs.dtype if "complex" in str(inputs.dtype) else "complex64"
            return keras.KerasTensor(inputs.shape, dtype=dtype)
        return tuple(keras.KerasTensor(inputs.shape, dtype=self.compute_dtype) for _ in range(2))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "output_form": self.output_form,
                "phase_initializer": keras.initializers.serialize(self.phase_initializer),
            }
        )
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = serialize_activity_regularizer(self)
        return config
