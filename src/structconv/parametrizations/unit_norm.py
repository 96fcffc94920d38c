"""`UnitNorm`: kernels of L2 norm 1 over chosen axes, including joint norms across filters."""

import numpy as np
from keras import ops

from structconv.parametrizations.base import Parametrization, as_numpy, normalize_axes, register

# Below this squared norm the kernel is treated as zero: the output is 0 and the gradient finite, never NaN.
_TINY = 1e-12


@register("unit_norm")
class UnitNorm(Parametrization):
    """The kernel has L2 norm 1 over `axis`, exactly: `kernel = free / ||free||`.

    Args:
        axis: kernel axes the norm is taken over. Default: all but the last, so each filter has unit norm.
            `axis=-1` holds `sqrt(sum over filters of k^2) = 1` at every tap and input channel: for a
            kernel of 2 filters C and D, `sqrt(C^2 + D^2) = 1` element by element (a phase-only complex
            filter C + iD, user story 1).

    A free variable of norm 0 maps to 0 (not NaN); its gradient is finite.

    Example:

    >>> import numpy as np
    >>> p = UnitNorm(axis=-1).build((5, 5, 1, 2))
    >>> k = np.asarray(p.forward(np.random.randn(5, 5, 1, 2).astype("float32")))
    >>> bool(np.allclose(np.sqrt(k[..., 0] ** 2 + k[..., 1] ** 2), 1.0, atol=1e-5))
    True
    """

    def __init__(self, axis=None):
        super().__init__()
        self.axis = axis if axis is None or isinstance(axis, int) else tuple(axis)

    def _build(self, kernel_shape, pinned):
        ndim = len(kernel_shape)
        self.axes = normalize_axes(self.axis, ndim, range(ndim - 1))

    def forward(self, free):
        free = ops.convert_to_tensor(free)
        squared = ops.sum(ops.square(free), axis=self.axes, keepdims=True)
        # `where`, not `keras.ops.maximum`: Keras's type promotion turns float64 into float32 in maximum.
        floored = ops.where(squared > _TINY, squared, ops.ones_like(squared) * _TINY)
        return free * ops.rsqrt(floored)

    def project(self, kernel):
        return self.forward(kernel)

    def in_manifold(self, kernel, atol=1e-5):
        norms = np.sqrt((as_numpy(kernel).astype("float64") ** 2).sum(axis=self.axes))
        return bool(np.all(np.abs(norms - 1.0) <= atol))

    def get_config(self):
        return {"axis": self.axis}
