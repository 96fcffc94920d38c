"""`Compose`: several parametrizations applied in order."""

import numpy as np

from structconv.errors import StructconvError, invalid_argument
from structconv.parametrizations.base import Parametrization, as_numpy, register


@register("compose")
class Compose(Parametrization):
    """Applies `parametrizations` in order: the first maps the free variable, each next one maps the
    previous one's kernel. `Compose([ZeroSum(), UnitNorm()])` gives kernels that sum to zero *and* have
    unit norm (scaling keeps a zero sum); the reverse order would not.

    The order is checked when the composition is built: on a random free variable every member's constraint
    must still hold on the final kernel, else a `StructconvError` says which member undoes which.
    Pinned entries (from `Mask` or `FixedTaps`) are passed on, so a later sum constraint leaves them as they
    are. Put `Mask` first: only then are its zeros left out of the free variable.

    Args:
        parametrizations: a list of parametrizations or registry names.

    Example:

    >>> import numpy as np
    >>> from structconv.parametrizations import UnitNorm, ZeroSum
    >>> p = Compose([ZeroSum(), UnitNorm()]).build((3, 3, 1, 4))
    >>> k = np.asarray(p.forward(np.random.randn(3, 3, 1, 4).astype("float32")))
    >>> bool(np.allclose(k.sum(axis=(0, 1)), 0, atol=1e-5) and np.allclose((k ** 2).sum((0, 1, 2)), 1))
    True
    """

    def __init__(self, parametrizations):
        super().__init__()
        from structconv.parametrizations import get

        members = [get(p) for p in parametrizations]
        if not members or any(m is None for m in members):
            raise invalid_argument(
                "parametrizations", parametrizations, "a non-empty list of parametrizations"
            )
        self.members = members

    def _build(self, kernel_shape, pinned):
        for member in self.members:
            member.build(kernel_shape, pinned)
            if member.pinned is not None:
                mask = np.broadcast_to(member.pinned, kernel_shape)
                values = np.broadcast_to(member.pinned_values, kernel_shape)
                if pinned is not None:
                    mask, values = mask | pinned[0], np.where(mask, values, pinned[1])
                pinned = (mask, values)
        self.pinned, self._pinned_values = (None, None) if pinned is None else pinned
        self._check_order()

    @property
    def pinned_values(self):
        return self._pinned_values

    def _check_order(self):
        rng = np.random.default_rng(0)
        free = rng.standard_normal(self.free_shape).astype("float32")
        kernel = as_numpy(self.forward(free))
        for index, member in enumerate(self.members):
            if not member.in_manifold(kernel, atol=1e-4):
                later = ", ".join(repr(m) for m in self.members[index + 1 :])
                raise StructconvError(
                    f"Invalid order in `Compose`: the constraint of {member!r} does not hold on the composed "
                    f"kernel because a later member ({later}) undoes it. Put {member!r} after them, or drop "
                    "one of them."
                )

    @property
    def free_shape(self):
        return self.members[0].free_shape

    def forward(self, free):
        kernel = free
        for member in self.members:
            kernel = member.forward(kernel)
        return kernel

    def right_inverse(self, kernel):
        for member in reversed(self.members):
            kernel = member.right_inverse(kernel)
        return kernel

    def project(self, kernel):
        for member in self.members:
            kernel = member.project(kernel)
        return kernel

    def in_manifold(self, kernel, atol=1e-5):
        return all(member.in_manifold(kernel, atol) for member in self.members)

    def __repr__(self):
        return f"Compose({self.members!r})"

    def get_config(self):
        import keras

        return {"parametrizations": [keras.saving.serialize_keras_object(m) for m in self.members]}
