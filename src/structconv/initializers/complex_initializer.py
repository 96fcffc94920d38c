"""`ComplexInitializer`: Rayleigh modulus and uniform phase, as Trabelsi et al. (2018) propose."""

import math

import keras
from keras import ops

from structconv.errors import invalid_argument


@keras.saving.register_keras_serializable(package="structconv")
class ComplexInitializer(keras.initializers.Initializer):
    """Initializes the real view `(..., 2)` of a complex kernel of shape `(*kernel_size, in, out)`.

    The modulus is Rayleigh-distributed with scale `sigma` and the phase uniform in `[-pi, pi)`, so that
    `Var(w) = E|w|^2 = 2 sigma^2` (Trabelsi et al., "Deep Complex Networks", ICLR 2018). The criterion
    sets that variance as for real networks: `"glorot"`, `Var(w) = 2 / (fan_in + fan_out)`, i.e.
    `sigma = 1 / sqrt(fan_in + fan_out)`; `"he"`, `Var(w) = 2 / fan_in`, i.e. `sigma = 1 / sqrt(fan_in)`.
    Fans count taps times input (or output) channels.

    Args:
        criterion: `"glorot"` or `"he"`.
        seed: optional int seed.

    Example:

    >>> import numpy as np
    >>> w = np.asarray(ComplexInitializer(seed=0)((5, 5, 8, 8, 2)))
    >>> w.shape
    (5, 5, 8, 8, 2)
    """

    def __init__(self, criterion="glorot", seed=None):
        if criterion not in ("glorot", "he"):
            raise invalid_argument("criterion", criterion, "'glorot' or 'he'")
        self.criterion = criterion
        self.seed = seed
        self._generator = keras.random.SeedGenerator(seed)

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) < 3 or shape[-1] != 2:
            raise invalid_argument(
                "shape", shape, "the real view (*kernel_size, in, out, 2) of a complex kernel"
            )
        taps = math.prod(shape[:-3])
        fan_in, fan_out = taps * shape[-3], taps * shape[-2]
        sigma = 1.0 / math.sqrt(fan_in + fan_out if self.criterion == "glorot" else fan_in)
        dtype = dtype or "float32"
        uniform = keras.random.uniform(shape[:-1], dtype=dtype, seed=self._generator)
        modulus = sigma * ops.sqrt(-2.0 * ops.log1p(-uniform * (1 - 1e-7)))
        phase = keras.random.uniform(shape[:-1], -math.pi, math.pi, dtype=dtype, seed=self._generator)
        return ops.stack([modulus * ops.cos(phase), modulus * ops.sin(phase)], axis=-1)

    def get_config(self):
        return {"criterion": self.criterion, "seed": self.seed}
