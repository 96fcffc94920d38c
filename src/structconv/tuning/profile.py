"""A profile: the cost model's constants and the strategy tables of one backend on one device class.

Shipped profiles (`profiles/<backend>-<device>[-<kernels>].json`) hold what was fitted on the project's
machines, with their provenance (machine, threads, date, command, fit error, constants that sit on a bound).
A profile fitted by `structconv calibrate` on the user's machine is stored in the cache directory under the
machine's fingerprint (`tuning.fingerprint`) and takes precedence. A device class without a shipped profile
(a GPU) gets the CPU constants marked `"unprofiled"`: "auto" then measures every candidate it does not
rule out.
"""

import dataclasses
import functools
import json
import math
import os

from structconv.tuning import storage

# Format 2 (session 15): calibration fits the decomposition's rank-4 rate to the decomposition alone, and
# XLA's own N-D convolution its own rate (`native_nd_gflops`); a format-1 profile calibrated on JAX had
# given the decomposition the N-D convolution's rate, 2.7-7x too slow. Older calibrated files are refused.
FORMAT = 2
# Per backend, bumped when its candidates change what a calibrated profile's constants price (absent: 1).
# JAX 2 (session 24): on the CPU rank 3 is decomposed onto XLA's 2-D convolution beside its own 3-D one, so
# the rank-3 direct rate is the decomposition's; a profile calibrated before priced it at the 3-D
# convolution's, 1.7-64x too slow. A calibrated profile of another revision is refused (one warning).
# TensorFlow's CPU without oneDNN decomposes rank 3 beside its 3-D convolution too (session 24), unbumped:
# there the decomposition ran 1.0-2.3x faster than the 3-D convolution its rank-3 rate was fitted on, at
# stride 1 (the strided gradients the change is for are measured, not modelled).
# JAX 3 (session 35): grouped convolutions built from ungrouped ones are candidates, and the grouped one
# is priced at `Costs.direct_grouped_factor`, which a profile calibrated before lacks.
PLANNER_REVISIONS = {"jax": 3}
_SHIPPED_DIR = os.path.join(os.path.dirname(__file__), "profiles")


@dataclasses.dataclass(frozen=True)
class Costs:
    """The cost model's constants (see `ops.cost_model`): overheads in microseconds per call, rates in
    Gflop/s, bandwidths in GB/s; per-rank tuples hold ranks 1, 2, ... and their last entry all higher
    ranks."""

    direct_overhead_us: float
    direct_gflops: tuple
    direct_gbps: float
    fft_overhead_us: float
    fft_gflops: tuple
    dft_gflops: float
    product_gflops: float
    fft_gbps: float
    # The kernel's spectrum by DFT takes this long per spatial axis besides its flops: a matrix product per
    # axis, each a few framework calls, which eager torch pays op by op (its whole-FFT plans by DFT ran
    # 0.15 and 0.25 ms slower than by FFT at 2-D 8^2 and 3-D 6^3, k=3, one channel; issue 13).
    dft_stage_us: float = 0.0
    # A decomposition (`ops.decomposition`: ranks above the backend's own) takes this long a call besides
    # its convolution: the slices, pads, stacking and sums around it, each a framework call, and their
    # memory (eager torch, 4-D 10^4-15^4, k=3-4, 1-2 channels: forward 0.46-1.2 ms where the model without
    # it priced 0.11-0.64, training 1.8-6.7 ms against 0.5-3.0; session 47). Fitted by `structconv
    # calibrate`; 0 in profiles fitted before.
    direct_decompose_us: float = 0.0
    # Per rank: "auto" models FFT as chosen where it is this many times cheaper than direct.
    fft_margin: tuple = (1.0,)
    # Per rank: forward + backward time over forward time, of direct and of FFT.
    direct_training: tuple = (1.0,)
    fft_training: tuple = (1.0,)
    # Per rank of the backend's convolution: above this many kernel taps its gradient leaves the fast path
    # (0: no such cliff). oneDNN on an AVX-512 AMD EPYC: a 2-D kernel of 15x15 taps trains 25-420x slower
    # than its forward, 14x14 1-5x (docs/fft.md); `structconv calibrate` finds the threshold by
    # bisection (`tuning.backward_cliff`). Past it, the gradient's flops run at `direct_cliff_gflops`.
    direct_cliff_taps: tuple = (0,)
    direct_cliff_gflops: tuple = (1.0,)
    # The direct algorithm's flops count at least this many channels per group (XLA's CPU convolution takes
    # as long at 1-8 channels as at 8); above rank 3, of the decomposition's convolution, whose input
    # channels carry the stacked taps.
    direct_min_channels: int = 1
    # ... and each flop counts `1 + half / (in * out channels per group)` times (likewise): a framework's
    # convolution nears its rate only with many channels (torch 1-D, k=63: 21 Gflop/s at 8 channels).
    direct_channel_half: float = 0.0
    # ... and `1 + output_half / (output channels per group)` more (likewise): with few filters a
    # convolution runs far below its rate whatever its input channels (torch conv1d on an AVX-512 AMD
    # EPYC, 2 threads, 33-511 taps: 12 -> 1 channels 6 Gflop/s, 16 -> 2 12, 2 -> 12 58, 16 -> 16 72).
    direct_output_half: float = 0.0
    # Per rank (1, 2, ...; none above the last entry): past this many taps along the kernel's longest axis the
    # backend's direct convolution runs at `direct_large_gflops` of the rank (0: no threshold).
    direct_large_taps: tuple = ()
    direct_large_gflops: tuple = ()
    # An FFT pass along an axis whose complex data exceeds this many bytes runs from main memory (a core's
    # L2: 2 MiB on the Xeon the shipped profiles were fitted on, 1 MiB on an AMD EPYC Genoa).
    fft_cache_bytes: int = 2 * 2**20
    # JAX: the rate of XLA's own N-D convolution above rank 3 (a loop on CPU, whose rate barely depends on
    # the channels: 3.8-7.6 Gflop/s from 1 to 16 channels on one thread of an AMD EPYC, where the
    # decomposition ran 1.2-40), priced apart from the decomposition; 0: at `UNMODELLED_FACTOR` of it.
    native_nd_gflops: float = 0.0
    # A grouped convolution by the backend's grouped one (not built from ungrouped ones, `ops.grouping`) is
    # modelled at this factor of its time, forward and with gradients: set by hand, not fitted (XLA's CPU
    # convolution ran grouped ones 15-34x and their training steps 13-77x the model's time for them, AMD
    # EPYC without AVX-512, 2 threads; `benchmarks/grouped_conv.py`).
    direct_grouped_factor: tuple = (1.0, 1.0)
    # A float64 direct convolution computes at the direct rates divided by this factor (per rank: ranks 1,
    # 2, ..., the last entry for higher ranks; `cost_model.float64_slowdown`), the rates being float32's;
    # its call overhead and memory traffic keep their price. Set by hand, not fitted. The
    # backends' float64 convolutions ran far below their float32 rate (1.6-40x on an Intel Xeon with oneDNN,
    # 2.9-47x on torch and 1.9-21x on JAX on an AMD EPYC without AVX-512), where the model priced 1.03-1.53x
    # from the wider items alone (docs/benchmarks.md, session 36).
    direct_float64_factor: tuple = (1.0,)
    # An overlap-save plan is modelled at this factor of its cost (whole power-of-two transforms were faster
    # per flop than mixed-radix blocks on the Xeon).
    block_margin: float = 1.1
    # An FFT plan whose product packs two batch items into one complex transform ("packed": XLA's complex
    # FFTs run faster than its real ones) is modelled at this factor of its cost; fitted by `structconv
    # calibrate` (`fit_rates.PACKED_FACTORS`), 1 in profiles fitted before.
    packed_factor: float = 1.0


# The rank of the first entry of a per-rank `Strategy.decompose_fewer_channels[_inference]` tuple.
FEWER_CHANNELS_FIRST_RANK = 3


@dataclasses.dataclass(frozen=True)
class Strategy:
    """How the executors run a plan's parts, where a backend has a measured preference (the planner
    writes these into each plan; executors read only the plan)."""

    # Spectral product: a sum of broadcast products up to this many input channels per group, else a
    # batched matrix product per frequency.
    product_loop_max_channels: int = 8
    # ... without a gradient, if set: the sum's gradient takes a full-size product per input channel, where
    # its forward pass is cheap (eager torch, in place, 2 threads of an AMD EPYC, 16384 frequencies: 8 -> 16
    # channels 1.6 ms forward against 2.3 by matrix product, 20.6 against 11.1 with the gradient).
    product_loop_max_channels_inference: object = None
    # The broadcast product with a kernel spectrum by DFT computed on real planes.
    planes_product: bool = False
    # From this rank pairs of batch items are packed into one complex FFT (None: never) ...
    packed_pairs_min_rank: object = None
    # ... while `in / groups * out <= ratio * batch * (in + out)`.
    packed_max_kernel_ratio: float = 1.0
    # Ranks above the backend's native ones: along which channel axis the decomposition stacks the peeled
    # taps, with a gradient and without, and above how many peeled taps "filters" falls back to "inputs"
    # with a gradient (and is no candidate either: `candidate_plans._direct_candidates`).
    decompose_stacking: str = "inputs"
    decompose_stacking_inference: str = "inputs"
    decompose_filters_max_taps: object = None
    # ... and whether, where the input and output channels differ, the taps stack along the side with fewer
    # channels instead (with a gradient and without; equal counts keep the stacking above): the smaller
    # copy (torch rank 4, 9^4, k=3, forward: 4 -> 12 channels 0.69 ms along the inputs, 0.88 along the
    # filters; 12 -> 4 1.78 and 0.93 ms; on an AVX-512 AMD EPYC this held at 20 of 20 such torch shapes).
    # Either flag may instead be a tuple per rank from 3 (the last entry holds for higher ranks): the
    # decomposition of rank 3 runs another convolution than that of rank 4 (TensorFlow's Eigen kernels: a
    # 2-D one, then a 3-D one), whose gradients favour opposite sides (`tuning.fit.fit_stacking`).
    decompose_fewer_channels: object = False
    decompose_fewer_channels_inference: object = False
    # ... and without a gradient, where that rule leaves it (equal channel counts, or the rule off), from
    # how many filters per group the taps stack along the inputs whatever the stacking above (0: never; a
    # count, or a tuple per rank from 3, the last entry for higher ranks): TensorFlow's Eigen kernels ran
    # the 3-D decomposition (onto their 2-D convolution) of 8 -> 8 and 16 -> 16 channels up to 2x faster
    # along the inputs at 40^3-56^3, while 4 -> 4 ran 1.02-1.42x faster along the filters (23 of 24
    # sizes, two runs), and rank 4 (onto their 3-D convolution) mostly along the filters (2 threads, AMD
    # EPYC without AVX-512). Set by hand in a shipped profile; `structconv calibrate` carries it
    # (`fit.fit_stacking`).
    decompose_inputs_min_filters_inference: object = 0
    # ... and the same with a gradient: torch's 4-D training steps of 8 -> 8 and 16 -> 16 channels ran
    # 0.63-0.81x the time along the filters stacked along the inputs (24 of 24 shapes, 8^4-20^4, k=3 and 5),
    # 4 -> 4 along the filters at k=3 (1.13-1.38x; Intel Xeon with AVX-512, 2 threads,
    # `benchmarks/stacking.py --equal-channels --training`).
    decompose_inputs_min_filters: object = 0
    # Kernels of fewer taps run by FFT under "auto" only where measuring finds it faster, and are timed
    # by FFT only where the model puts it within the measuring band (`ops.planner.allowed`).
    fft_min_taps: int = 10
    # How the real FFT's axis (the last spatial one) picks its length (`ops.fft_geometry.fast_length`): 0
    # the smallest product of 2, 3, 5 and 7 that fits, else the one up to the next power of two of least
    # `length_cost`, an odd length's `L log2 L` counted `exp(weight)` times: the weight fitted to real FFTs
    # timed at many lengths (`tuning.fft_lengths`, by `structconv calibrate`). torch's real FFT (Intel MKL)
    # ran odd lengths 2-4x slower per flop than powers of two (docs/benchmarks.md, session 46).
    fft_odd_length_weight: float = 0.0
    # Rows `(channels, filters, forward factor, training factor)`: the backend's convolution of an odd
    # number of input channels into that many filters timed over the same on one zero channel more
    # (`tuning.odd_channels`, by `structconv calibrate`; empty where the backend never offers padded
    # channels). The model prices the plain convolution at the padded one's price times the factor
    # (`ops.even_channels.with_even_channels`): JAX's YNNPACK ran 3 channels into 17-24 filters 11-17x
    # slower than 4 (docs/benchmarks.md, session 47).
    odd_channel_factors: tuple = ()
    # The rate per filter (Gflop/s) of the backend's convolution without padding where the backend says
    # that may be slow (`tuning.unpadded`, by `structconv calibrate`; 0: none found, or not probed). The
    # model prices such a forward convolution at least at its flops at this rate times its filters
    # (`ops.padded_row.with_padded_row`): JAX's YNNPACK ran 32 -> 2 unpadded 2-D convolutions at 1.2-1.5
    # Gflop/s per filter, 18-21x slower than padded (docs/benchmarks.md, session 55).
    unpadded_gflops_per_filter: float = 0.0

    def __post_init__(self):
        # JSON gives the rows as lists: tuples keep the strategy hashable.
        object.__setattr__(self, "odd_channel_factors", tuple(tuple(row) for row in self.odd_channel_factors))

    def odd_channel_factor(self, channels, filters, training):
        """The factor of `odd_channel_factors` for a convolution of `channels` (odd) into `filters`, with
        a gradient (`training`) or without: the row of the probed channel count nearest on a log scale
        (within 2x; None past that, or where nothing was probed) and of the fewest probed filters not
        below `filters` (the most where none is)."""
        rows = self.odd_channel_factors
        counts = sorted({row[0] for row in rows})
        if not counts:
            return None
        near = min(counts, key=lambda count: abs(math.log(count / channels)))
        if abs(math.log(near / channels)) > math.log(2.0):
            return None
        mine = sorted((row for row in rows if row[0] == near), key=lambda row: row[1])
        row = next((row for row in mine if row[1] >= filters), mine[-1])
        return row[3] if training else row[2]

    def fewer_channels(self, rank, training):
        """Whether at `rank`, with a gradient (`training`) or without, the decomposition stacks its peeled
        taps along the side with fewer channels (`decompose_fewer_channels[_inference]`, a flag or a tuple
        per rank from 3)."""
        flags = self.decompose_fewer_channels if training else self.decompose_fewer_channels_inference
        return bool(_of_rank(flags, rank))

    def inputs_min_filters(self, rank, training=False):
        """From how many filters per group the decomposition of `rank` stacks its peeled taps along the
        inputs, with a gradient (`training`) or without, where the side-with-fewer rule leaves it (0: never;
        `decompose_inputs_min_filters[_inference]`)."""
        if training:
            return int(_of_rank(self.decompose_inputs_min_filters, rank) or 0)
        return int(_of_rank(self.decompose_inputs_min_filters_inference, rank) or 0)


def _of_rank(setting, rank):
    """A strategy setting's value at `rank`: the setting, or its entry for the rank where it is a tuple
    per rank from `FEWER_CHANNELS_FIRST_RANK` (the last entry holds for higher ranks)."""
    if isinstance(setting, tuple):
        return setting[min(max(rank - FEWER_CHANNELS_FIRST_RANK, 0), len(setting) - 1)]
    return setting


@dataclasses.dataclass(frozen=True)
class Profile:
    backend: str
    device: str
    costs: Costs
    strategy: Strategy
    # "auto" measures the candidates modelled within this factor of the best one (in "uncertain" mode).
    uncertainty: float
    source: str  # "shipped", "calibrated" or "unprofiled"
    provenance: tuple = ()  # (key, value) pairs, as read from the file

    @property
    def description(self):
        where = dict(self.provenance)
        machine = where.get("machine", "unknown machine")
        return f"{self.source} profile {self.backend}-{self.device} ({machine}, {where.get('date', '?')})"


def _tuples(values):
    return {key: tuple(value) if isinstance(value, list) else value for key, value in values.items()}


def from_dict(data, source):
    """A `Profile` from its JSON form; raises `ValueError` on a malformed one."""
    if isinstance(data, dict) and isinstance(data.get("format"), int) and data["format"] < FORMAT:
        raise ValueError(f"a profile of an older structconv (format {data['format']}, now {FORMAT}): "
                         "run `structconv calibrate` again")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not a structconv profile of format {FORMAT}")
    revision, found = PLANNER_REVISIONS.get(data.get("backend"), 1), data.get("planner_revision", 1)
    if found != revision:
        raise ValueError(f"a {data.get('backend')} profile of planner revision {found!r} (this structconv's: "
                         f"{revision}): run `structconv calibrate` again")
    try:
        return Profile(
            backend=str(data["backend"]),
            device=str(data["device"]),
            costs=Costs(**_tuples(data["costs"])),
            strategy=Strategy(**_tuples(data.get("strategy", {}))),
            uncertainty=float(data.get("uncertainty", 4.0)),
            source=source,
            provenance=tuple(sorted((str(k), json.dumps(v) if not isinstance(v, str) else v)
                                    for k, v in data.get("provenance", {}).items())),
        )
    except (KeyError, TypeError) as error:
        raise ValueError(f"malformed profile: {error}") from error


def to_dict(profile, provenance=None):
    return {
        "format": FORMAT,
        "planner_revision": PLANNER_REVISIONS.get(profile.backend, 1),
        "backend": profile.backend,
        "device": profile.device,
        "uncertainty": profile.uncertainty,
        "costs": dataclasses.asdict(profile.costs),
        "strategy": dataclasses.asdict(profile.strategy),
        "provenance": dict(provenance if provenance is not None else profile.provenance),
    }


@functools.cache
def shipped(backend, device="cpu", kernels=""):
    """The profile shipped for `backend` on `device`, fitted with the convolution `kernels` of the
    machine's fingerprint (`profiles/<backend>-<device>-<kernels>.json`, e.g. TensorFlow's Eigen kernels,
    its default on CPUs without AVX-512) where there is one, else `profiles/<backend>-<device>.json`; for a
    device class without one, the CPU profile marked "unprofiled"."""
    names = ([f"{backend}-{device}-{kernels}"] if kernels else []) + [f"{backend}-{device}"]
    for name in names:
        path = os.path.join(_SHIPPED_DIR, f"{name}.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                return from_dict(json.load(handle), "shipped")
    base = shipped(backend, "cpu") if device != "cpu" else shipped("torch", "cpu")
    return dataclasses.replace(base, backend=backend, device=device, source="unprofiled",
                               uncertainty=float("inf"))


def shipped_for(print_):
    """The shipped profile for a machine's fingerprint (`tuning.fingerprint`)."""
    return shipped(print_["backend"], print_["device"], print_["kernels"])


# The strategy settings `structconv calibrate` measures by probes of their own before its grid
# (`tuning.fft_lengths`, `tuning.odd_channels`, `tuning.unpadded`), not by fitting the grid's times.
PROBED = ("fft_odd_length_weight", "odd_channel_factors", "unpadded_gflops_per_filter")


def with_probed(profile, found):
    """`profile` with the probed strategy settings `found` (`{name: value}`, names of `PROBED`)."""
    return dataclasses.replace(profile, strategy=dataclasses.replace(profile.strategy, **found))


def calibrated_path(backend, device, fingerprint_id):
    return os.path.join(storage.cache_dir(), f"profile-{backend}-{device}-{fingerprint_id}.json")


_calibrated = {}


def calibrated(backend, device, fingerprint_id):
    """The profile `structconv calibrate` stored for this machine, or None (a corrupt one warns once)."""
    path = calibrated_path(backend, device, fingerprint_id)
    if path not in _calibrated:
        data = storage.read_json(path)
        profile = None
        if data is not None:
            try:
                profile = from_dict(data, "calibrated")
            except ValueError as error:
                storage.warn_once(path, str(error))
        missing = [name for name in PROBED if name not in (data or {}).get("strategy", {})]
        if profile is not None and missing:
            # Calibrated before calibration ran these probes: the shipped profile's findings.
            found = shipped(backend, device).strategy
            profile = with_probed(profile, {name: getattr(found, name) for name in missing})
        _calibrated[path] = profile
    return _calibrated[path]


def save_calibrated(profile, fingerprint_id, provenance):
    path = calibrated_path(profile.backend, profile.device, fingerprint_id)
    _calibrated.pop(path, None)
    if not storage.write_json(path, to_dict(profile, provenance)):
        return None
    return path


def forget_loaded():
    """Drops profiles read from the cache directory (after it changes, in tests and `calibrate`)."""
    _calibrated.clear()
