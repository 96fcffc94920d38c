"""`ModReLU`: `relu(|z| + b) * z / |z|` with a trainable bias `b` per feature (Arjovsky et al. 2016)."""

import keras

from structconv.layers.complex_forms import part_shape, same_form_spec
from structconv.ops.complex_activations import mod_relu


@keras.saving.register_keras_serializable(package="structconv")
class ModReLU(keras.layers.Layer):
    """Shifts the modulus of a complex input by a trainable bias and rectifies it; the phase is kept.

    Args:
        axis: the feature axis, one bias per entry (default -1, the channels of channels_last).
        bias_initializer: initializer of the bias (default zeros: the identity, 0 at `z = 0`).
        bias_regularizer, bias_constraint: as for Keras layers.

    Input shape:
        A complex tensor or a `(real, imag)` pair.

    Output shape:
        The same.

    Example:

    >>> import numpy as np
    >>> layer = ModReLU(bias_initializer=keras.initializers.Constant(-1.0))
    >>> real, imag = layer((np.array([[3.0, 0.3]]), np.array([[4.0, 0.4]])))
    >>> np.round(keras.ops.convert_to_numpy(real).astype('float64'), 6).tolist()
    [[2.4, 0.0]]
    """

    def __init__(self, axis=-1, bias_initializer="zeros", bias_regularizer=None, bias_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.bias_constraint = keras.constraints.get(bias_constraint)

    def build(self, input_shape):
        shape = part_shape(input_shape)
        self._broadcast = [1] * len(shape)
        self._broadcast[self.axis] = shape[self.axis]
        self.bias = self.add_weight(name="bias", shape=(shape[self.axis],), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    def call(self, inputs):
        return mod_relu(inputs, keras.ops.reshape(self.bias, self._broadcast))

    def compute_output_spec(self, inputs):
        return same_form_spec(inputs)

    def get_config(self):
        return {
            **super().get_config(), "axis": self.axis,
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
        }
