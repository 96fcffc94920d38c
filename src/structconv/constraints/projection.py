"""`keras.constraints.Constraint` wrappers around the parametrizations' `project`.

The five classes live together because each is one line: which parametrization projects.
"""

import keras

from structconv import parametrizations


class Projection(keras.constraints.Constraint):
    """Projects a weight onto the set of a parametrization: the nearest kernel that satisfies it."""

    parametrization_class = None

    def __init__(self, **arguments):
        # Built once per kernel shape, on first use; the arguments are the config.
        self.parametrization_class(**arguments)  # checks the arguments now
        self.arguments = arguments
        self._built = {}

    def __call__(self, w):
        shape = tuple(w.shape)
        if shape not in self._built:
            self._built[shape] = self.parametrization_class(**self.arguments).build(shape)
        return self._built[shape].project(w)

    def get_config(self):
        return dict(self.arguments)


_register = keras.saving.register_keras_serializable(package="structconv.constraints")


@_register
class ZeroSum(Projection):
    """Subtracts each slice's mean: the kernel sums to 0 over `axis` (default: the spatial axes).

    Example:

    >>> import keras, numpy as np
    >>> layer = keras.layers.Conv2D(4, 3, kernel_constraint=ZeroSum())
    >>> w = np.asarray(ZeroSum()(keras.ops.ones((3, 3, 1, 4))))
    >>> float(abs(w.sum(axis=(0, 1))).max())
    0.0
    """

    parametrization_class = parametrizations.ZeroSum

    def __init__(self, axis=None):
        super().__init__(axis=axis)


@_register
class FixedSum(Projection):
    """Shifts each slice so that the kernel sums to `total` over `axis` (default: the spatial axes)."""

    parametrization_class = parametrizations.FixedSum

    def __init__(self, total=0.0, axis=None):
        super().__init__(total=total, axis=axis)


@_register
class UnitNorm(Projection):
    """Divides by the L2 norm over `axis` (default: all but the last; `axis=-1`: joint norm across
    filters at every tap, as `parametrizations.UnitNorm`)."""

    parametrization_class = parametrizations.UnitNorm

    def __init__(self, axis=None):
        super().__init__(axis=axis)


@_register
class Mask(Projection):
    """Zeroes the entries where `mask` (broadcastable to the kernel) is 0."""

    parametrization_class = parametrizations.Mask

    def __init__(self, mask):
        super().__init__(mask=parametrizations.Mask(mask).get_config()["mask"])


@_register
class NonNeg(Projection):
    """Clips negative entries to 0."""

    parametrization_class = parametrizations.NonNeg

    def __init__(self):
        super().__init__()
