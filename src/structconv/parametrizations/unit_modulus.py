"""`UnitModulus`: phase-only complex kernels, parametrized by their phase."""

import numpy as np
from keras import ops

from structconv.errors import invalid_argument
from structconv.ops.complex_conv import cos_sin, phase_of
from structconv.parametrizations.base import Parametrization, as_numpy, register


@register("unit_modulus")
class UnitModulus(Parametrization):
    """A phase-only complex kernel: `|kernel| = 1` at every tap, exactly. The free variable is the phase.

    It acts on the real view of a complex kernel, shape `(..., 2)` with the real and imaginary parts last
    (as `ComplexConvND` holds it): `kernel = stack([cos(phase), sin(phase)], -1)`. On a real kernel of 2
    filters it is the same as `UnitNorm(axis=-1)` (story 1's `sqrt(C^2 + D^2) = 1`), with one parameter per
    tap instead of two.

    Example:

    >>> import numpy as np
    >>> p = UnitModulus().build((3, 3, 1, 4, 2))
    >>> p.free_shape
    (3, 3, 1, 4)
    >>> k = np.asarray(p.forward(np.random.randn(3, 3, 1, 4).astype("float32")))
    >>> bool(np.allclose(k[..., 0] ** 2 + k[..., 1] ** 2, 1.0, atol=1e-6))
    True
    """

    def _build(self, kernel_shape, pinned):
        if kernel_shape[-1] != 2:
            raise invalid_argument(
                "kernel_shape",
                kernel_shape,
                "the real view of a complex kernel, with a last axis of 2 (real, imaginary)",
            )

    @property
    def free_shape(self):
        return self.kernel_shape[:-1]

    def forward(self, free):
        return ops.stack(cos_sin(free), axis=-1)

    def right_inverse(self, kernel):
        kernel = ops.convert_to_tensor(kernel)
        return phase_of(kernel[..., 0], kernel[..., 1])

    def project(self, kernel):
        return self.forward(self.right_inverse(kernel))

    def in_manifold(self, kernel, atol=1e-5):
        kernel = as_numpy(kernel).astype("float64")
        return bool(np.all(np.abs(np.hypot(kernel[..., 0], kernel[..., 1]) - 1.0) <= atol))
