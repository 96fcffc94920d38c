"""The protocol every kernel parametrization follows, and the registry of their names.

A parametrization computes the kernel from free variables in the forward pass, so its constraint holds
exactly at every step, whatever the optimizer does (unlike a Keras constraint, a projection applied after
the step). Each one is *built* for one kernel shape and then offers:

- `free_shape`: the shape of the free variable it needs;
- `forward(free)`: free variable -> kernel, in `keras.ops` (differentiable);
- `right_inverse(kernel)`: kernel -> free variable, with `forward(right_inverse(k)) == k` for every `k`
  that satisfies the constraint (used to initialise from `kernel_initializer` and by `assign_kernel`);
- `project(kernel)`: the nearest kernel that satisfies the constraint;
- `in_manifold(kernel, atol)`: whether a kernel (NumPy) satisfies it;
- `pinned`: a boolean NumPy array of the entries whose values it fixes (or `None`), and
  `pinned_values`, those values, so that a later sum constraint adjusts only the other entries. `build`
  receives the union of earlier members' pins as a `(mask, values)` pair, or `None`.
"""

import numpy as np

from structconv.errors import invalid_argument

_REGISTRY = {}


def register(name):
    """Class decorator: registers a parametrization under `name` (for `get`) and with Keras saving."""
    import keras

    def decorate(cls):
        cls.registry_name = name
        _REGISTRY[name] = cls
        return keras.saving.register_keras_serializable(package="structconv")(cls)

    return decorate


def registered_names():
    return sorted(_REGISTRY)


def lookup(name):
    if name not in _REGISTRY:
        raise invalid_argument(
            "kernel_parametrization", name, "one of " + ", ".join(repr(n) for n in registered_names())
        )
    return _REGISTRY[name]


def normalize_axes(axis, ndim, default, name="axis"):
    """Kernel axes as a sorted tuple of non-negative ints; `None` gives `default`."""
    if axis is None:
        return tuple(sorted(default))
    values = (axis,) if isinstance(axis, int) and not isinstance(axis, bool) else axis
    if not isinstance(values, (tuple, list)) or not values:
        raise invalid_argument(name, axis, f"an int or a non-empty tuple of ints in [-{ndim}, {ndim})")
    result = []
    for value in values:
        if not isinstance(value, int) or isinstance(value, bool) or not -ndim <= value < ndim:
            raise invalid_argument(
                name, axis, f"kernel axes in [-{ndim}, {ndim}) for a kernel of rank {ndim}"
            )
        result.append(value % ndim)
    if len(set(result)) != len(result):
        raise invalid_argument(name, axis, "distinct axes")
    return tuple(sorted(result))


class Parametrization:
    """Base class of kernel parametrizations (see the module docstring for the protocol).

    Subclasses implement `_build`, `forward`, `project` and `in_manifold`; the free variable defaults to
    the kernel's shape, the right inverse to the identity and `pinned` to `None`.
    """

    registry_name = None

    def __init__(self):
        self.kernel_shape = None
        self.pinned = None

    def build(self, kernel_shape, pinned=None):
        """Checks the parametrization against `kernel_shape` and prepares its constants."""
        self.kernel_shape = tuple(int(d) for d in kernel_shape)
        self._build(self.kernel_shape, pinned)
        return self

    def _build(self, kernel_shape, pinned):
        pass

    @property
    def pinned_values(self):
        """The values of the `pinned` entries (zeros unless a subclass pins other values)."""
        return None if self.pinned is None else np.zeros(self.pinned.shape)

    @property
    def built(self):
        return self.kernel_shape is not None

    @property
    def free_shape(self):
        return self.kernel_shape

    def forward(self, free):
        raise NotImplementedError

    def right_inverse(self, kernel):
        return kernel

    def project(self, kernel):
        raise NotImplementedError

    def in_manifold(self, kernel, atol=1e-5):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def as_numpy(kernel):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(kernel))
