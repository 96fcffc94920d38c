"""`FixedTaps`: chosen kernel taps pinned to given values."""

import numpy as np
from keras import ops

from structconv.errors import invalid_argument
from structconv.parametrizations.base import Parametrization, as_numpy, register


@register("fixed_taps")
class FixedTaps(Parametrization):
    """Pins chosen taps to given values, exactly; the other entries stay free.

    Args:
        taps: a dict (or list of `(position, value)` pairs) mapping a position to its value. A position is
            a tuple of spatial indices (the tap is pinned for every input channel and filter), a full kernel
            index (one entry), or `"center"` (the centre tap of an odd-sized kernel).

    With a sum constraint placed after it, the sum is met by the free taps only: the Bayar-Stamm
    constrained convolution of image forensics (centre -1, the other taps sum to 1) is
    `[FixedTaps({"center": -1.0}), ZeroSum()]`.

    Example:

    >>> import numpy as np
    >>> from structconv.parametrizations import Compose, ZeroSum
    >>> bayar = Compose([FixedTaps({"center": -1.0}), ZeroSum()]).build((5, 5, 1, 3))
    >>> k = np.asarray(bayar.forward(np.random.rand(5, 5, 1, 3).astype("float32")))
    >>> float(k[2, 2, 0, 0]), round(float(k.sum(axis=(0, 1))[0, 0] - k[2, 2, 0, 0]), 4)
    (-1.0, 1.0)
    """

    def __init__(self, taps):
        super().__init__()
        items = list(taps.items()) if isinstance(taps, dict) else list(taps)
        self.taps = []
        for item in items:
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise invalid_argument("taps", taps, "a dict or a list of (position, value) pairs")
            position, value = item
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise invalid_argument("taps", taps, "numbers as values")
            if position != "center":
                if isinstance(position, int):
                    position = (position,)
                if not isinstance(position, (tuple, list)) or not all(
                    isinstance(i, int) and not isinstance(i, bool) for i in position
                ):
                    raise invalid_argument("taps", taps, "positions that are tuples of ints or 'center'")
                position = tuple(position)
            self.taps.append((position, float(value)))
        if not self.taps:
            raise invalid_argument("taps", taps, "at least one tap")

    def _build(self, kernel_shape, pinned):
        ndim, spatial = len(kernel_shape), len(kernel_shape) - 2
        self.pinned = np.zeros(kernel_shape, bool)
        self.values = np.zeros(kernel_shape, "float64")  # cast to the kernel's dtype when used
        for position, value in self.taps:
            if position == "center":
                if any(k % 2 == 0 for k in kernel_shape[:spatial]):
                    raise invalid_argument(
                        "taps", "center", f"an odd kernel size on every spatial axis, got {kernel_shape}"
                    )
                position = tuple(k // 2 for k in kernel_shape[:spatial])
            if len(position) not in (spatial, ndim) or any(
                not -n <= i < n for i, n in zip(position, kernel_shape)
            ):
                raise invalid_argument(
                    "taps",
                    position,
                    f"{spatial} spatial indices or {ndim} kernel indices within the kernel shape "
                    f"{kernel_shape}",
                )
            self.pinned[position] = True
            self.values[position] = value

    @property
    def pinned_values(self):
        return self.values

    def forward(self, free):
        free = ops.convert_to_tensor(free)
        return ops.where(self.pinned, ops.cast(self.values, free.dtype), free)

    def project(self, kernel):
        return self.forward(kernel)

    def in_manifold(self, kernel, atol=1e-5):
        return bool(np.allclose(as_numpy(kernel)[self.pinned], self.values[self.pinned], atol=atol))

    def get_config(self):
        return {"taps": [[p if p == "center" else list(p), v] for p, v in self.taps]}
