"""`FixedSum` and `ZeroSum`: kernels whose entries sum to a given total over chosen axes."""

import numpy as np
from keras import ops

from structconv.errors import invalid_argument
from structconv.parametrizations.base import Parametrization, as_numpy, normalize_axes, register


@register("fixed_sum")
class FixedSum(Parametrization):
    """The kernel sums to `total` over `axis`, exactly: `kernel = free + (total - sum(free)) / n`.

    The correction is shared by the entries that are not pinned by an earlier member of a composition
    (`FixedTaps`, `Mask`), so pinned values stay as they are. That makes the Bayar-Stamm constrained
    convolution `[FixedTaps({"center": -1.0}), ZeroSum()]`: centre tap -1, the other taps sum to 1.

    Args:
        total: float, the sum each slice must have (for example 1.0 for smoothing filters).
        axis: kernel axes summed over; default the spatial axes (all but the last two), so every
            (input channel, filter) slice sums to `total`. E.g. `(0, 1, 2)` for a 2-D kernel: each whole
            filter, input channels included, sums to `total`.

    Example:

    >>> import numpy as np
    >>> p = FixedSum(1.0).build((3, 3, 2, 4))
    >>> kernel = p.forward(np.random.rand(3, 3, 2, 4).astype("float32"))
    >>> bool(np.allclose(np.asarray(kernel).sum(axis=(0, 1)), 1.0, atol=1e-5))
    True
    """

    def __init__(self, total=0.0, axis=None):
        super().__init__()
        if isinstance(total, bool) or not isinstance(total, (int, float)):
            raise invalid_argument("total", total, "a number")
        self.total = float(total)
        self.axis = axis if axis is None or isinstance(axis, int) else tuple(axis)

    def _build(self, kernel_shape, pinned):
        ndim = len(kernel_shape)
        self.axes = normalize_axes(self.axis, ndim, range(max(ndim - 2, 1)))
        size = int(np.prod([kernel_shape[a] for a in self.axes]))
        if size < 2:
            raise invalid_argument(
                "axis",
                self.axis,
                f"axes with at least 2 kernel entries in all (kernel shape {kernel_shape}); over a single "
                "entry the constraint would fix the kernel",
            )
        if pinned is not None:
            mask, values = pinned
            free = ~mask
            counts = free.sum(axis=self.axes, keepdims=True)
            # A slice pinned whole (a kernel a Mask zeroes, taps all fixed) is left as it is: its sum is
            # already fixed, and must be the total.
            fixed_sums = np.where(mask, values, 0.0).sum(axis=self.axes, keepdims=True)
            impossible = (counts == 0) & ~np.isclose(fixed_sums, self.total)
            if impossible.any():
                raise invalid_argument(
                    "total",
                    self.total,
                    "a total that slices pinned whole by earlier members (Mask, FixedTaps) can have: they "
                    f"sum to {sorted(set(np.round(fixed_sums[impossible], 6).tolist()))}",
                )
            self.free_fraction = free.astype("float32") / np.maximum(counts, 1)
        else:
            self.free_fraction = 1.0 / size

    def forward(self, free):
        free = ops.convert_to_tensor(free)
        sums = ops.sum(free, axis=self.axes, keepdims=True)
        fraction = self.free_fraction
        if isinstance(fraction, float):
            # The common case, kept to one backend op and two tensor operators: in eager mode (PyTorch)
            # every op is paid on every training step.
            if self.total == 0.0:
                return free - sums * fraction
            return free + (self.total - sums) * fraction
        return free + (self.total - sums) * ops.cast(fraction, free.dtype)

    def project(self, kernel):
        return self.forward(ops.convert_to_tensor(kernel))

    def in_manifold(self, kernel, atol=1e-5):
        kernel = as_numpy(kernel)
        scale = max(1.0, float(np.abs(kernel).sum(axis=self.axes).max()))
        return bool(np.all(np.abs(kernel.sum(axis=self.axes) - self.total) <= atol * scale))

    def get_config(self):
        return {"total": self.total, "axis": self.axis}


@register("zero_sum")
class ZeroSum(FixedSum):
    """The kernel sums to 0 over `axis`, exactly: `FixedSum(0.0, axis)`.

    A zero-sum filter responds to local changes of brightness, not to the absolute level.

    Args:
        axis: kernel axes summed over; default the spatial axes, so every (input channel, filter) slice
            sums to 0.

    Example:

    >>> import numpy as np
    >>> p = ZeroSum().build((7, 7, 1, 8))
    >>> free = np.random.default_rng(0).random((7, 7, 1, 8), dtype="float32")
    >>> kernel = np.asarray(p.forward(free))
    >>> bool(np.abs(kernel.sum(axis=(0, 1))).max() < 1e-4)  # float32 rounding of 49 terms
    True
    """

    def __init__(self, axis=None):
        super().__init__(0.0, axis)

    def get_config(self):
        return {"axis": self.axis}
