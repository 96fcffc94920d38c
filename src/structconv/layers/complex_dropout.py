"""`ComplexDropout`: drops whole complex numbers (real and imaginary parts together)."""

import keras
from keras import ops

from structconv.errors import invalid_argument
from structconv.layers.complex_forms import same_form_spec
from structconv.ops.complex_conv import join_complex, split_complex


@keras.saving.register_keras_serializable(package="structconv")
class ComplexDropout(keras.layers.Layer):
    """Sets each complex entry to 0 with probability `rate` during training and scales the others by
    `1 / (1 - rate)`; one mask for both parts, so a complex number is kept or dropped as a whole (dropping
    the parts independently would change phases at random). Inference (`training=False`) is the identity.

    Args:
        rate: the drop probability, in `[0, 1)`.
        noise_shape: as `keras.layers.Dropout` (e.g. `(batch, 1, 1, channels)` drops whole channels).
        seed: an optional int seed.

    Input shape:
        A complex tensor or a `(real, imag)` pair.

    Output shape:
        The same.

    Example:

    >>> import numpy as np
    >>> real, imag = ComplexDropout(0.5, seed=0)((np.ones((1, 8)), np.ones((1, 8))), training=True)
    >>> bool(np.all((np.asarray(real) == 0) == (np.asarray(imag) == 0)))
    True
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate < 1:
            raise invalid_argument("rate", rate, "a number in [0, 1)")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        real, imag, as_pair = split_complex(inputs, "inputs")
        shape = ops.shape(real)
        if self.noise_shape is not None:
            shape = tuple(shape[i] if n is None else n for i, n in enumerate(self.noise_shape))
        keep = ops.greater_equal(keras.random.uniform(shape, seed=self.seed_generator), self.rate)
        scale = ops.cast(keep, real.dtype) / ops.cast(1 - self.rate, real.dtype)
        return join_complex(real * scale, imag * scale, as_pair)

    def compute_output_spec(self, inputs, training=False):
        return same_form_spec(inputs)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}
