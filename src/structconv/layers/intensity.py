"""`Intensity`: what a detector measures of a complex field, `re^2 + im^2`."""

import keras

from structconv.ops.complex_conv import intensity


@keras.saving.register_keras_serializable(package="structconv")
class Intensity(keras.layers.Layer):
    """Returns `re^2 + im^2` of a complex tensor or a `(real, imag)` pair (a real tensor).

    The gradient is finite everywhere, 0 included (no square root is taken).

    Example:

    >>> import numpy as np
    >>> field = (np.full((1, 2), 3.0, "float32"), np.full((1, 2), 4.0, "float32"))
    >>> float(np.asarray(Intensity()(field)).max())
    25.0
    """

    def call(self, inputs):
        return intensity(inputs)

    def compute_output_spec(self, inputs):
        if isinstance(inputs, (tuple, list)):
            return keras.KerasTensor(inputs[0].shape, dtype=inputs[0].dtype)
        dtype = "float64" if "128" in str(inputs.dtype) else "float32"
        return keras.KerasTensor(inputs.shape, dtype=dtype)
