"""`structconv calibrate`: fits a cost-model profile for this machine and the active backend.

Times a grid of convolutions (ranks 1-4, batch 1-8, 1-32 channels, kernels from 3 to 257 taps per axis,
"same" and "valid", strides 1 and 2) by every candidate plan of the planner, in the form they run
(`tuning.autotune`), within a time budget (about 3 minutes on 2 cores), and a few of them also with
gradients; then fits the model's constants to the times (`tuning.fit`). Before the grid, the kernel size
past which the direct gradient leaves the backend's fast path is found per rank (`tuning.backward_cliff`:
oneDNN's 2-D gradient ran 25-420x its forward from 15x15 taps), and which FFT lengths the backend
transforms fastest (`tuning.fft_lengths`: torch's real FFT ran odd lengths 2-4x slower per flop); the grid's
FFT plans run at those lengths. The profile is stored in the cache
directory under the machine's fingerprint, with its provenance, and takes precedence over the shipped one
from then on.
"""

import dataclasses
import math
import sys
import time

from structconv.ops import candidate_plans, planner
from structconv.tuning import autotune, backward_cliff, fft_lengths, fingerprint, fit, odd_channels, unpadded
from structconv.tuning import profile as profiles
from structconv.tuning.square_problem import square_problem

# (rank, size, kernel sizes, batch, channels, filters, padding, stride): every kernel size is one point.
# Ranks interleave so that a budget cut leaves every rank covered.
GRID = [
    (1, 16, (3,), 1, 1, 1, "same", 1),
    (2, 8, (3,), 1, 1, 1, "same", 1),
    (3, 6, (3,), 1, 1, 1, "same", 1),
    (1, 8192, (17, 129), 2, 8, 8, "same", 1),
    (2, 128, (7, 21), 2, 8, 8, "same", 1),
    (3, 32, (5, 11), 2, 4, 4, "same", 1),
    (4, 14, (3, 5), 1, 4, 4, "same", 1),
    (1, 32768, (33, 257), 1, 1, 1, "same", 1),
    (2, 96, (9, 25), 4, 16, 16, "valid", 1),
    (3, 24, (3, 7), 2, 16, 16, "valid", 1),
    (4, 12, (2, 5), 2, 8, 8, "same", 1),
    (1, 4096, (9, 65), 8, 32, 32, "valid", 1),
    (2, 192, (11, 31), 1, 1, 4, "same", 1),
    (3, 40, (9,), 1, 1, 1, "same", 1),
    (2, 128, (15,), 2, 8, 8, "same", 2),
    (1, 8192, (65,), 2, 4, 4, "same", 2),
    (4, 16, (3,), 2, 2, 2, "valid", 1),
    (2, 64, (13,), 8, 32, 32, "same", 1),
    # A long signal: its whole FFT's passes leave a core's cache (1 MiB), its overlap-save blocks' do not.
    (1, 131072, (129,), 1, 1, 1, "same", 1),
    # Long signals, a few channels, tens of taps: where 1-D direct convolution leaves its fast kernels
    # (torch conv1d 8 -> 8 on the 2-vCPU AMD EPYC VM: 89 Gflop/s at 17 taps, 28-31 at 63-129). Without them
    # the calibrated model priced such 1-D steps 1.5-4.3x too cheap (seed 24 of benchmarks/fft.py: 12 of
    # its 25 misses; refitted with them, torch 22 -> 25 of 33 and TensorFlow 23 -> 27, worst 5.0x -> 1.9x and
    # 6.4x -> 2.4x).
    (1, 12288, (47,), 2, 8, 8, "same", 1),
    (1, 24576, (41, 97), 2, 4, 4, "same", 1),
    # 4-D with fewer input than output channels and the reverse, for the decomposition's stacking
    # (`fit_stacking`): the side with fewer channels stacked faster at 29 of 30 such torch and TensorFlow
    # forward and torch training shapes on an AVX-512 AMD EPYC; XLA's mostly along the filters.
    (4, 10, (3,), 2, 2, 16, "same", 1),
    (4, 10, (3,), 2, 16, 2, "same", 1),
    # Fewer filters than input channels and the reverse, ranks 1-3, for the rate's fall with few output
    # channels (`direct_output_half`): torch's conv1d ran 12 -> 1 channels at 6 Gflop/s, 16 -> 2 at 12,
    # 2 -> 12 at 58 (33-511 taps, AVX-512 AMD EPYC). Refitted with them and that term, the calibrated
    # model's picks at the 198 points of benchmarks/fft.py seeds 26 and 27 (none a grid shape; these four
    # were chosen after seed 27's misses) missed 1.15x at 25 instead of 29 (torch 11 -> 10, TensorFlow
    # 6 -> 5, JAX 12 -> 10).
    (1, 8192, (33,), 1, 16, 2, "same", 1),
    (1, 8192, (33,), 1, 2, 16, "same", 1),
    (2, 96, (9,), 2, 16, 2, "same", 1),
    (3, 20, (5,), 1, 12, 2, "same", 1),
]
QUICK_GRID = GRID[:7]
# (rank, size, kernel size, batch, channels, filters), padding "same": timed forward and with gradients.
TRAINING_GRID = [
    (2, 96, 11, 2, 8, 8),
    (1, 8192, 65, 2, 4, 4),
    (3, 24, 7, 1, 4, 4),
    (4, 12, 4, 1, 2, 2),
    (2, 64, 5, 4, 16, 16),
    (1, 16384, 15, 1, 1, 1),
    (3, 16, 3, 2, 8, 8),
    # Past oneDNN's backward cliff on an AVX-512 EPYC (`tuning.backward_cliff`): 17x17 taps.
    (2, 64, 17, 1, 4, 4),
    # A second 4-D step (3 peeled taps beside the first's 4), for the decomposition's stacking with a
    # gradient (`fit_stacking`).
    (4, 12, 3, 2, 4, 4),
    # ... and two with fewer input than output channels and the reverse (XLA's training steps ran 4-17x
    # slower stacked along the filters with fewer inputs; TensorFlow's 1.2-5.5x slower along the inputs at
    # 10 of 12 shapes).
    (4, 9, 3, 1, 4, 12),
    (4, 9, 3, 1, 12, 4),
    # ... and the same at rank 3, whose decomposition runs another convolution (TensorFlow's Eigen kernels:
    # a 2-D one, where rank 4's runs a 3-D one): there TensorFlow's steps with fewer inputs ran 1.5-2.1x
    # faster stacked along the filters, at rank 4 1.5-3.9x slower, and XLA's forward ones along the filters
    # at rank 3 and along the side with fewer channels at rank 4 (AMD EPYC without AVX-512; chosen after a
    # 3-D 20^3 k=4 2 -> 16 step ran 4.6x slower than the other stacking in benchmarks/fft.py, seed 92).
    (3, 16, 3, 2, 2, 12),
    (3, 16, 5, 2, 12, 2),
    # Two more 1-D steps, so that rank 1's factor is a median of four: a gradient multiplied XLA's direct
    # 1-D time by 0.92-5.5 over 8 shapes (AVX2 AMD EPYC, 2 threads), and the median of the two above alone
    # (1.31 and 0.92: one channel, 16384 samples, forward slower than the step) priced its steps at 1.08x
    # their forward: the calibrated model picked direct for a 4640-sample k=49 2 -> 12 step at 5.97x FFT's.
    (1, 8192, 33, 1, 2, 12),
    (1, 8192, 127, 1, 16, 16),
]
QUICK_TRAINING_GRID = TRAINING_GRID[:2]
# At most this share of the budget goes to finding the backward cliff (it took 1-4 s of 150 here).
CLIFF_SHARE = 0.2
# ... and at most this share to the FFT lengths (1-3 s of 150 here).
LENGTHS_SHARE = 0.1
# ... and at most this share in the probe of odd input channel counts (`tuning.odd_channels`; JAX only).
ODD_CHANNELS_SHARE = 0.1


def grid_problems(backend_name, device, grid=GRID):
    for rank, size, kernels, batch, channels, filters, padding, stride in grid:
        for k in kernels:
            yield square_problem(backend_name, device, rank, size, k, batch, channels, filters, padding,
                                 stride, False)


def training_problems(backend_name, device, grid=TRAINING_GRID):
    """Pairs of the same problem forward and with gradients."""
    for rank, size, k, batch, channels, filters in grid:
        yield tuple(square_problem(backend_name, device, rank, size, k, batch, channels, filters, "same",
                                   1, training) for training in (False, True))


def every_plan(problem, profile):
    """Every candidate the planner offers for `problem` but decompositions onto another rank than the
    backend's target, the framework's own convolution bypassing its kernel library (`direct:im2col`), the
    convolutions on one zero input channel more (`Plan.even_channels`: the model prices their padded flops
    at the rates of the convolution they pad, whose times on odd counts are what is off) and,
    where one item takes the backend's slower path (`candidate_plans.single_item_loops`: torch's 3-D
    loops), the direct ones (`direct:native` on that path, `direct:halves`): the model prices all of these
    at a factor of the backend's convolution, whose rates the fit is of, and every direct time is fitted
    as that convolution's (session 42: a 3-D 6^3 k=3 single-channel item of the grid had torch's loops
    and halves fitted as oneDNN's convolution). Cheapest first: both stackings of a decomposition,
    whatever the profile's limit on stacking along the filters with a gradient (the grid's steps are small;
    `fit.fit_stacking` sets the limit from them), and each FFT geometry by both kernel transforms. The
    twins with a padded row (`Plan.padded_row`) are timed: the model picks them where the probed rate
    (`tuning.unpadded`) prices the plain convolution up, and a pick not timed counts as the slowest plan
    (`fit.pick_ratio`); their times are the convolution's usual rate where the plain one's are not."""
    unlimited = dataclasses.replace(profile, strategy=dataclasses.replace(
        profile.strategy, decompose_filters_max_taps=None))
    single_item = candidate_plans.single_item_loops(problem)
    return [p for p in candidate_plans.candidates(problem, unlimited)
            if p.onto is None and p.direct != "im2col" and not p.even_channels
            and not (single_item and p.algorithm == "direct")]


def timed_plans(problem, profile):
    """The candidates of `problem` that calibration times: `every_plan`, but each overlap-save geometry by
    the transform the model prices cheaper only (the budget goes to more shapes instead; the whole FFT by
    both, so that both the DFT and the FFT rates are seen)."""
    kept = []
    for plan in every_plan(problem, profile):  # cheapest first: a block geometry's first is its cheaper one
        if plan.algorithm == "fft" and plan.fft.blocked and any(
                p.algorithm == "fft" and p.fft.geometry == plan.fft.geometry for p in kept):
            continue
        kept.append(plan)
    return kept


def _record(problem, profile, plans_of=timed_plans):
    plans = plans_of(problem, profile)
    times = autotune.measure(problem, plans)
    return {
        "rank": problem.rank, "tiny": problem.channels == 1 and math.prod(problem.spatial) <= 512,
        "training": problem.training, "problem": problem,
        "times": {label: t for label, t in times.items() if t}, "plans": {p.label: p for p in plans},
    }


def measure_grid(backend_name, device, seconds, grid, progress=True, training_grid=(), plans_of=timed_plans,
                 profile=None):
    """Records `{"problem", "rank", "tiny", "training", "times": {label: us}, "plans": {label: plan}}` of
    the grid (forward) and of `training_grid` (each problem forward and with
    gradients, interleaved with the grid so that a budget cut leaves some of both), within about
    `seconds`; `plans_of(problem, profile)`: the plans timed (`timed_plans`, what calibration fits), of
    `profile` (None: the shipped one)."""
    profile = profile or profiles.shipped_for(fingerprint.fingerprint(backend_name, device))
    forward = [(problem,) for problem in grid_problems(backend_name, device, grid)]
    pairs = list(training_problems(backend_name, device, training_grid))
    every = max(1, -(-len(forward) // max(len(pairs), 1)))
    groups = []
    for i, group in enumerate(forward):
        groups.append(group)
        if (i + 1) % every == 0 and pairs:
            groups.append(pairs.pop(0))
    groups += pairs
    records, started = [], time.perf_counter()
    for i, group in enumerate(groups):
        if time.perf_counter() - started > seconds and len(records) >= 4:
            break
        records.extend(_record(problem, profile, plans_of) for problem in group)
        if progress:
            done = int(30 * (i + 1) / len(groups))
            print(f"\r  [{'#' * done}{'.' * (30 - done)}] {i + 1}/{len(groups)} shapes, "
                  f"{time.perf_counter() - started:.0f} s", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    return records


def calibrate(seconds=150.0, quick=False, store=True, progress=True, device="cpu", grid=None,
              training_grid=None):
    """Fits and (with `store`) saves a profile for this machine and the active Keras backend; returns a
    dict with the profile, its path, the fit's errors and how many grid decisions the model gets right.
    `grid` and `training_grid` replace the built-in shapes (`GRID`, `TRAINING_GRID`).

    Raises:
        ValueError: `device` is not "cpu", or the backend computes on a GPU: only the CPU model is
            calibrated (JAX and TensorFlow would time the GPU and store its times as the CPU's); on a GPU
            "auto" measures each new shape instead.
    """
    import keras

    from structconv._backend import default_device

    backend_name = keras.backend.backend()
    if device != "cpu":
        raise ValueError(f"calibrate received device={device!r}; only 'cpu' is calibrated (on a GPU, "
                         "algorithm='auto' measures each new shape instead).")
    computes_on = default_device()
    if computes_on != "cpu":
        raise ValueError(
            f"this {backend_name} process computes on {computes_on!r}: calibrate fits the CPU model only "
            "(on a GPU, algorithm='auto' measures each new shape instead). To calibrate the CPU, hide the "
            "GPU from the process: CUDA_VISIBLE_DEVICES= structconv calibrate (JAX: JAX_PLATFORMS=cpu).")
    started = time.perf_counter()
    print_ = fingerprint.fingerprint(backend_name, device)
    shipped = profiles.shipped_for(print_)
    if grid is None:
        grid = QUICK_GRID if quick else GRID
    if training_grid is None:
        training_grid = QUICK_TRAINING_GRID if quick else TRAINING_GRID
    cliff = backward_cliff.probe(backend_name, device, CLIFF_SHARE * seconds)
    lengths = fft_lengths.probe(device, LENGTHS_SHARE * seconds)
    odd = odd_channels.probe(device, ODD_CHANNELS_SHARE * seconds)
    slow_unpadded = unpadded.probe(device)
    probes = (lengths, odd, slow_unpadded)
    probed = {name: found[name] for found in probes for name in profiles.PROBED if name in found}
    records = measure_grid(backend_name, device,
                           seconds - cliff["seconds"] - sum(found["seconds"] for found in probes), grid,
                           progress, training_grid, profile=profiles.with_probed(shipped, probed))
    fitted, errors, at_bound = fit.fit_profile(records, backend_name, device, print_["threads"], cliff,
                                               probed)
    right = sum(fit.pick_ratio(r, fit.model_pick(r, fitted)) <= fit.TARGET for r in records)
    shipped_right = sum(fit.pick_ratio(r, fit.model_pick(r, shipped)) <= fit.TARGET for r in records)
    provenance = {
        "machine": print_["cpu"], "cpu": print_["cpu"], "cpu_identity": print_["cpu_identity"],
        "threads": print_["threads"],
        "accelerator": print_["accelerator"], "backend_version": print_["backend_version"],
        "cpu_extensions": print_["cpu_extensions"], "kernels": print_["kernels"],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": "structconv calibrate" + (" --quick" if quick else ""),
        "points": len(records), "training_points": sum(bool(r["training"]) for r in records),
        "fit_error": {k: round(v, 3) for k, v in errors.items()},
        "at_bound": at_bound, "backward_cliff": cliff["report"], "fft_lengths": lengths["report"],
        "odd_channels": odd["report"], "unpadded": slow_unpadded["report"],
        "grid_decisions_within_1.15": f"{right}/{len(records)}",
        "shipped_grid_decisions_within_1.15": f"{shipped_right}/{len(records)}",
        "seconds": round(time.perf_counter() - started, 1),
    }
    path = profiles.save_calibrated(fitted, fingerprint.fingerprint_id(print_), provenance) if store else None
    planner.clear_plans()
    return {"profile": fitted, "path": path, "provenance": provenance}
