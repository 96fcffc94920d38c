"""`ComplexActivation`: a fixed complex activation (`"crelu"`, `"zrelu"`, `"cardioid"`) as a layer."""

import keras

from structconv.errors import invalid_argument
from structconv.layers.complex_forms import same_form_spec
from structconv.ops.complex_activations import ACTIVATIONS


@keras.saving.register_keras_serializable(package="structconv")
class ComplexActivation(keras.layers.Layer):
    """Applies a complex activation to a complex tensor or a `(real, imag)` pair (the output keeps the form).

    See `structconv.ops.complex_activations`; `ModReLU` is the one with a trainable bias.

    Args:
        activation: `"crelu"` (`relu(re) + i relu(im)`), `"zrelu"` (`z` in the first quadrant, else 0) or
            `"cardioid"` (`(1 + cos(arg z)) / 2 * z`).

    Input shape:
        Any; a complex tensor or a pair of real tensors of one shape.

    Output shape:
        The same.

    Example:

    >>> import numpy as np
    >>> real, imag = ComplexActivation("crelu")((np.array([[1.0, -1.0]]), np.array([[-2.0, 2.0]])))
    >>> np.asarray(real).tolist(), np.asarray(imag).tolist()
    ([[1.0, 0.0]], [[0.0, 2.0]])
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        if activation not in ACTIVATIONS:
            raise invalid_argument("activation", activation, " or ".join(repr(a) for a in ACTIVATIONS))
        self.activation = activation

    def call(self, inputs):
        return ACTIVATIONS[self.activation](inputs)

    def compute_output_spec(self, inputs):
        return same_form_spec(inputs)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}
