"""`Symmetric`: kernels that are mirror-symmetric along chosen spatial axes."""

import numpy as np
from keras import ops

from structconv.errors import invalid_argument
from structconv.parametrizations.base import Parametrization, as_numpy, normalize_axes, register


@register("symmetric")
class Symmetric(Parametrization):
    """The kernel equals its mirror image along each axis in `axis`, exactly: the average of its flips.

    Args:
        axis: int or tuple of spatial kernel axes to mirror, e.g. `0` (vertical mirror symmetry of a 2-D
            kernel) or `(0, 1)`.

    Example:

    >>> import numpy as np
    >>> p = Symmetric(axis=1).build((3, 5, 1, 1))
    >>> k = np.asarray(p.forward(np.random.randn(3, 5, 1, 1).astype("float32")))
    >>> bool(np.allclose(k, k[:, ::-1]))
    True
    """

    def __init__(self, axis=0):
        super().__init__()
        self.axis = axis if isinstance(axis, int) else tuple(axis)

    def _build(self, kernel_shape, pinned):
        ndim = len(kernel_shape)
        self.axes = normalize_axes(self.axis, ndim, ())
        spatial = range(ndim - 2)
        if any(a not in spatial for a in self.axes):
            raise invalid_argument("axis", self.axis, f"spatial kernel axes, in [0, {ndim - 2})")

    def forward(self, free):
        kernel = ops.convert_to_tensor(free)
        for axis in self.axes:
            kernel = 0.5 * (kernel + ops.flip(kernel, axis=axis))
        return kernel

    def project(self, kernel):
        return self.forward(kernel)

    def in_manifold(self, kernel, atol=1e-5):
        kernel = as_numpy(kernel)
        return all(np.allclose(kernel, np.flip(kernel, axis), atol=atol) for axis in self.axes)

    def get_config(self):
        return {"axis": self.axis}
