"""`Plan`: every decision about how one `ConvProblem` is computed. Executors take a plan and never decide."""

import dataclasses

# The backend's own conv; a decomposition's stacking; the backend's own conv of channels_last data on a
# channels-first copy of the input (`_backend` README: `CHANNELS_FIRST_COPY_RANKS`); the backend's own conv
# of a batch of one as two halves stacked along the batch (`ops.halves`); the framework's own convolution
# bypassing its kernel library (`_backend` README: `im2col_helps`).
DIRECT_METHODS = ("native", "inputs", "filters", "channels_first", "halves", "im2col")
# A grouped convolution by the backend's grouped one (None), as one ungrouped convolution with a
# block-diagonal kernel, or as one convolution per group (`ops.grouping`).
GROUPINGS = (None, "dense", "split")
KERNEL_TRANSFORMS = ("dft", "fft")
PRODUCTS = ("loop", "matmul", "planes", "packed")


@dataclasses.dataclass(frozen=True)
class FftPlan:
    """How the FFT convolution runs.

    `geometry`: `"whole"` (the input transformed at once, zero padding never materialised) or a block factor
    (overlap-save: the padded input cut on each axis into `counts` blocks of `lengths` samples, `steps`
    outputs apart). `kernel_transform`: the kernel's spectrum by DFT matrices or by the FFT of the padded
    kernel. `product`: how channels contract per frequency: a sum of broadcast products on complex spectra
    (`"loop"`) or on real planes (`"planes"`), the same with pairs of batch items packed into one complex FFT
    (`"packed"`), or a batched matrix product per frequency (`"matmul"`).
    """

    geometry: object
    lengths: tuple
    steps: tuple
    counts: tuple
    kernel_transform: str
    product: str
    memory: int

    @property
    def blocked(self):
        return self.geometry != "whole"


@dataclasses.dataclass(frozen=True)
class Plan:
    """`algorithm` `"direct"` (with `direct`: the backend's `"native"` convolution, the same on a
    `"channels_first"` copy of channels_last inputs, the same of a batch of one as two `"halves"` stacked
    along the batch, the framework's own `"im2col"` convolution bypassing its kernel library, or a
    decomposition stacking `"inputs"` or `"filters"` onto the backend's convolution
    of rank `onto`, None: the backend's own target, `shapes.arithmetic.decomposition_rank`) or `"fft"`
    (with `fft`). `modelled_us`: the cost model's time, of which `uncertain_us` is a guess measuring should
    not trust (the 1-D backward cliff's; `ops.contenders`); `source`: where the decision came from;
    `measured_us`: times of the candidates when measured. `working_dtype`: for a direct plan of a
    float16 or bfloat16 problem, the dtype it computes in where not the problem's (`"float32"`: the
    operands widened, the output rounded back; `ops.working_precision`). `grouping`: for a direct plan of
    a grouped problem, `"dense"` (one ungrouped convolution with a block-diagonal kernel) or `"split"` (one
    per group), the plan's other fields then those of that ungrouped problem's plan; None: the backend's
    grouped convolution (`ops.grouping`). `even_channels`: for a direct plan, each convolution of the
    backend it runs on an odd number of input channels (over one, ungrouped) runs on one zero channel
    more (`ops.even_channels`). `padded_row`: for a direct plan, each ungrouped convolution of the
    backend it runs without padding runs with one output row more, on zero padding, and that row cropped
    (`ops.padded_row`)."""

    algorithm: str
    direct: str = "native"
    fft: FftPlan = None
    modelled_us: float = 0.0
    uncertain_us: float = 0.0
    source: str = "model"
    measured_us: tuple = ()
    onto: int = None
    working_dtype: str = None
    grouping: str = None
    even_channels: bool = False
    padded_row: bool = False

    def scaled(self, factor, **changes):
        """This plan priced at `factor` times its modelled time, its doubted part (`uncertain_us`) with it,
        and `changes` made (`dataclasses.replace`): a price scaled for a grouping, padded channels or a
        working dtype scales what measuring should not trust alike."""
        return dataclasses.replace(self, modelled_us=self.modelled_us * factor,
                                   uncertain_us=self.uncertain_us * factor, **changes)

    @property
    def label(self):
        """A short stable name of the executed variant (plan files, `explain_choice`, benchmarks)."""
        if self.algorithm == "direct":
            return (f"direct:{self.direct}" + (f":{self.onto}d" if self.onto else "")
                    + (f":{self.grouping}" if self.grouping else "")
                    + (":even" if self.even_channels else "")
                    + (":row" if self.padded_row else "")
                    + (f":{self.working_dtype}" if self.working_dtype else ""))
        f = self.fft
        return f"fft:{f.geometry}:{f.kernel_transform}:{f.product}"


def forced(algorithm="direct", direct="native", **fft_fields):
    """A plan built by hand (tests, benchmarks): `forced("fft", geometry=..., ...)` needs every `FftPlan`
    field; the executors check nothing else."""
    return Plan(algorithm=algorithm, direct=direct, fft=FftPlan(**fft_fields) if fft_fields else None,
                source="forced")
