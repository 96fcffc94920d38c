"""`ConvProblem`: everything about one convolution that decides how it is best computed, and nothing else.

A problem is hashable and pure Python: the planner (`ops.planner`) turns it into a `Plan`, plans are cached
and remembered by it (`ConvProblem.key`), and the executors read its static sizes.
"""

import dataclasses
import math

from structconv.shapes import arithmetic

_ITEMSIZE = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}
# The float dtype FFT plans compute in, and direct plans of a half-precision problem that widen their
# operands (`Plan.working_dtype`): the FFTs of every backend run in float32 or float64 only.
WORKING_FLOAT = {"float16": "float32", "bfloat16": "float32", "float32": "float32", "float64": "float64"}


def is_static(value):
    """A size known as a Python int while tracing (symbolic sizes of torch.export or jax2tf are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class ConvProblem:
    """One convolution (`transposed`: the full transposed convolution, before its crop).

    Sizes that are unknown when traced are `None`. `padding` holds resolved `(before, after)` pairs (for a
    transposed convolution the full one is computed: no padding), `dtype` the working float dtype, and
    `training` whether the gradient will be taken.
    """

    backend: str
    device: str
    rank: int
    batch: object
    spatial: tuple
    channels: int
    filters: int
    kernel_size: tuple
    groups: int
    strides: tuple
    dilation_rate: tuple
    padding: tuple
    padding_mode: str
    dtype: str
    data_format: str
    transposed: bool = False
    training: bool = False
    # Traced into a function XLA compiles where the backend also runs without XLA (TensorFlow's
    # `jit_compile=True`): measured planning times the candidates in that form (`traced_for_xla`).
    xla: bool = False
    # A size was symbolic (torch.export, jax2tf shape polymorphism, ONNX export): such a graph must hold
    # what every exporter can express, the direct algorithm.
    symbolic: bool = False

    @property
    def static(self):
        """Whether every spatial size is known and nothing is symbolic (a batch may be unknown, None: it is
        then planned as 1)."""
        return not self.symbolic and all(is_static(n) for n in self.spatial) and all(
            pair is not None and all(is_static(p) for p in pair) for pair in self.padding)

    @property
    def planned_batch(self):
        return self.batch if is_static(self.batch) and self.batch > 0 else 1

    @property
    def itemsize(self):
        return _ITEMSIZE.get(self.dtype, 4)

    @property
    def half_precision(self):
        """Whether the dtype is float16 or bfloat16 (direct plans may then compute in float32)."""
        return self.dtype in ("float16", "bfloat16")

    @property
    def working_itemsize(self):
        """The item size of `WORKING_FLOAT`'s dtype for this problem's: what FFT plans hold."""
        return _ITEMSIZE[WORKING_FLOAT.get(self.dtype, "float32")]

    @property
    def extents(self):
        return tuple(arithmetic.effective_kernel_size(k, d)
                     for k, d in zip(self.kernel_size, self.dilation_rate))

    @property
    def taps(self):
        return math.prod(self.kernel_size)

    @property
    def padded(self):
        """The padded input sizes of a convolution; the full output sizes of a transposed one."""
        if self.transposed:
            return tuple((n - 1) * s + e for n, s, e in zip(self.spatial, self.strides, self.extents))
        return tuple(n + before + after for n, (before, after) in zip(self.spatial, self.padding))

    @property
    def outputs(self):
        """Output sizes of the modelled convolution (for a transposed one, the convolution it is the adjoint
        of, whose outputs are its inputs)."""
        if self.transposed:
            return tuple(self.spatial)
        return tuple((n - e) // s + 1 for n, e, s in zip(self.padded, self.extents, self.strides))

    def key(self):
        """A stable text key (plan files): every field, the batch as planned."""
        fields = dataclasses.asdict(self)
        fields["batch"] = self.planned_batch
        return ";".join(f"{name}={fields[name]}" for name in sorted(fields))

    def without_batch(self):
        return dataclasses.replace(self, batch=None)
