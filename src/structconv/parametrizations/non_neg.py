"""`NonNeg`: kernels with no negative entry."""

import numpy as np
from keras import ops

from structconv.parametrizations.base import Parametrization, as_numpy, register


@register("non_neg")
class NonNeg(Parametrization):
    """Every kernel entry is >= 0, exactly: `kernel = |free|`.

    The absolute value (rather than a square or softplus) reaches 0 exactly and keeps the gradient's
    magnitude; its right inverse is the identity on non-negative kernels.

    Example:

    >>> import numpy as np
    >>> p = NonNeg().build((3, 3, 2, 2))
    >>> bool((np.asarray(p.forward(np.random.randn(3, 3, 2, 2).astype("float32"))) >= 0).all())
    True
    """

    def forward(self, free):
        return ops.abs(ops.convert_to_tensor(free))

    def project(self, kernel):
        return ops.relu(ops.convert_to_tensor(kernel))

    def in_manifold(self, kernel, atol=1e-5):
        return bool(np.all(as_numpy(kernel) >= -atol))
