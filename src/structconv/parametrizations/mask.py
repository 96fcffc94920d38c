"""`Mask`: kernels with entries fixed at zero that are not variables at all."""

import numpy as np
from keras import ops

from structconv.errors import invalid_argument
from structconv.ops.gather import gather
from structconv.parametrizations.base import Parametrization, as_numpy, register


@register("mask")
class Mask(Parametrization):
    """Entries where `mask` is 0 are exactly 0 and are not parameters: the free variable holds only the
    others, so a layer's trainable parameter count is the number of free entries.

    Args:
        mask: array-like of 0/1 (or booleans) broadcastable to the kernel shape: e.g. shape
            `(in_channels, filters)` to zero whole kernels (the pairs of input channel and filter that are
            not connected), or the full kernel shape to zero single taps.

    Example (user story 3: 5 of 48 kernels of a `Conv2D(16, 3)` on 3 channels are zero):

    >>> import numpy as np
    >>> connected = np.ones((3, 16), "int32")
    >>> connected[0, :5] = 0
    >>> p = Mask(connected).build((3, 3, 3, 16))
    >>> p.free_shape
    (387,)
    """

    def __init__(self, mask):
        super().__init__()
        try:
            array = np.asarray(mask)
        except Exception as error:  # ragged nested lists
            raise invalid_argument("mask", mask, "an array-like of 0 and 1") from error
        if array.dtype == bool:
            array = array.astype("int8")
        if array.dtype.kind not in "iuf" or not np.isin(array, (0, 1)).all():
            raise invalid_argument("mask", mask, "an array-like of 0 and 1 (or booleans)")
        self.mask = array.astype(bool)

    def _build(self, kernel_shape, pinned):
        try:
            full = np.broadcast_to(self.mask, kernel_shape)
        except ValueError as error:
            raise invalid_argument(
                "mask",
                f"an array of shape {self.mask.shape}",
                f"a shape broadcastable to the kernel shape {kernel_shape}, e.g. (in_channels, filters) = "
                f"{kernel_shape[-2:]} or the full kernel shape",
            ) from error
        self.count = int(full.sum())
        if self.count == 0:
            raise invalid_argument("mask", "a mask of zeros only", "at least one free (1) entry")
        flat = full.reshape(-1)
        self.free_indices = np.flatnonzero(flat).astype("int32")
        # Where each kernel entry reads from [free..., 0]: its free index, or the trailing zero.
        self.gather_indices = np.where(flat, np.cumsum(flat) - 1, self.count).astype("int32")
        self.pinned = ~full

    @property
    def free_shape(self):
        return (self.count,)

    def forward(self, free):
        free = ops.convert_to_tensor(free)
        if tuple(free.shape) == tuple(self.kernel_shape):
            return free * ops.cast(~self.pinned, free.dtype)
        padded = ops.concatenate([free, ops.zeros((1,), dtype=free.dtype)], axis=0)
        return ops.reshape(gather(padded, self.gather_indices), self.kernel_shape)

    def right_inverse(self, kernel):
        return gather(ops.reshape(ops.convert_to_tensor(kernel), (-1,)), self.free_indices)

    def project(self, kernel):
        kernel = ops.convert_to_tensor(kernel)
        return kernel * ops.cast(~self.pinned, kernel.dtype)

    def in_manifold(self, kernel, atol=1e-5):
        return bool(np.all(np.abs(as_numpy(kernel)[self.pinned]) <= atol))

    def get_config(self):
        return {"mask": self.mask.astype("int8").tolist()}
