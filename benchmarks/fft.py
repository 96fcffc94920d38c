"""FFT convolution on CPU: where `algorithm="auto"` switches, how FFT compares to its peers, and memory.

    flock /tmp/structconv-bench.lock .venv/bin/python benchmarks/fft.py [--quick] [--threads N]
        [--random N --seed S [--max-channels C] [--max-batch B]] [--profiles A.json B.json]
        [--json results.json]

One run, one subprocess per Keras backend (`KERAS_BACKEND` is fixed per process), results side by side:

(a) how good "auto" is: the crossover sweeps (batch 2, 8 -> 8 channels, padding "same", float32, forward:
    1-D length 16384 with kernels 3..511, 2-D 256^2 with kernels 3..31, 3-D 48^3 with kernels 3..15, 4-D
    20^4 with kernels 2..7) and a wider set (1 to 32 channels, batch 1 to 8, ranks 1-4, forward and
    training steps, `WIDE`), and with `--random N` N shapes drawn at random. At each point the candidates
    that matter are timed side by side in the form they run (`compile_for_timing`: jit / tf.function /
    eager; forward + backward for training): the best direct plan, the plan `algorithm="fft"` runs, and
    the plan "auto" picks three ways: the model with the shipped profile, the model with the profile
    `structconv calibrate` stored for this machine and thread count (if there is one), and measured
    planning (the default, "uncertain"; its plan file is bypassed so every run measures, and its cost is
    reported). Each pick's time over the fastest timed plan (target: shipped and calibrated <= 1.15,
    measured <= 1.05). `--profiles A B` puts two profile files in the places of the shipped and the
    calibrated one: two settings of the model (fitted on the same calibration data with and without a
    change) picked and timed in the same rounds. Judge a change to the model that way: the calibrated
    column of two runs differs by the calibrations' own spread and by each process's timing too;
(b) FFT convolution next to its peers: `fft_conv_pytorch.fft_conv` (ranks 1-3, 8 -> 8 channels, torch
    backend) and `scipy.signal.fftconvolve` / `oaconvolve` (one channel: 1-D 2^20 with k=4097, 2-D 2048^2
    with k=65). SciPy computes convolution, so it gets the flipped kernel: every implementation computes
    the same cross-correlation, checked against each other before timing;
(c) 64 -> 64 channels, 64^3, k=3, padding "same", batch 1 under `"auto"`: the algorithm chosen, the FFT
    working-memory estimate (of the FFT plan auto would run, `algorithm.fft_plan`) against the budget,
    and the time.

Functions run under `jax.jit` on JAX and `tf.function` on TensorFlow, eagerly under `torch.no_grad()` on
torch. Every implementation is warmed up (compilation, FFT plans), then the implementations of one point are
timed in interleaved rounds (so a burst of load hits all of them alike) within a time budget per point, and
the tables show the fastest round (`--statistic min`, the least disturbed by other load on a shared
machine) or the median (`--statistic median`), and (a)'s verdicts are given again by the 25th-percentile
call of the same rounds, the statistic measuring decides by; a call slower than 5 s is timed once after its
warm-up.
`--threads N` caps every framework at N threads (the default, 0, leaves them all cores). `--quick` runs a
subset with fewer repeats (a smoke test, not for reporting). Wrap every run in
`flock /tmp/structconv-bench.lock` on a shared machine.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from functools import partial

import numpy as np
from environment import machine, measure_afresh, rotated, run_worker_process, to_backend, versions  # noqa: E402  (this folder is on sys.path)

from structconv.tuning.threads import limit_threads  # noqa: E402

PACKAGES = ("keras", "jax", "torch", "tensorflow-cpu", "scipy", "numpy", "fft-conv-pytorch")

BACKENDS = ("torch", "jax", "tensorflow")
BATCH, CHANNELS = 2, 8
SWEEPS = {
    1: (16384, (3, 7, 15, 31, 63, 127, 255, 511)),
    2: (256, (3, 5, 7, 11, 15, 21, 31)),
    3: (48, (3, 5, 7, 9, 11, 15)),
    4: (20, (2, 3, 4, 5, 6, 7)),
}
QUICK_SWEEPS = {
    1: (16384, (7, 63, 511)),
    2: (256, (5, 15)),
    3: (48, (3, 9)),
    4: (20, (3, 6)),
}
# (b): fft_conv_pytorch at ranks 1-3 (8 -> 8 channels, batch 2, valid) and SciPy single-channel.
PEER_CASES = {
    "torch-1d": {"rank": 1, "size": 16384, "k": 255, "channels": CHANNELS, "batch": BATCH},
    "torch-2d": {"rank": 2, "size": 256, "k": 31, "channels": CHANNELS, "batch": BATCH},
    "torch-3d": {"rank": 3, "size": 48, "k": 15, "channels": CHANNELS, "batch": BATCH},
    "scipy-1d": {"rank": 1, "size": 2**20, "k": 4097, "channels": 1, "batch": 1},
    "scipy-2d": {"rank": 2, "size": 2048, "k": 65, "channels": 1, "batch": 1},
}
MEMORY_CASE = {"rank": 3, "size": 64, "k": 3, "channels": 64, "batch": 1}
ALGORITHMS = ("direct", "fft", "auto")
TARGET = 1.15
STATISTICS = {"min": min, "median": statistics.median}
# Set by the worker from --statistic: how the interleaved rounds of one point are summarised.
STATISTIC = statistics.median


# --- worker setup and timing ------------------------------------------------------------------------------



GIVE_UP = 3.0  # a function this many times slower than the fastest leaves the rounds
FAST_REPEATS = 4  # calls per round of a function at least 8x faster than the slowest of its round
SLOW_SECONDS = 5.0  # a call slower than this is timed once after its warm-up, outside the rounds
VERY_SLOW_SECONDS = 30.0  # a warm-up slower than this is its only sample (compilation is a small part)


def measure_interleaved(functions, budget, max_rounds=7, min_rounds=3, statistic=statistics.median,
                        samples=None):
    """`statistic` (median) of the seconds of each of `functions` (a dict) after warm-up, timed in
    interleaved rounds; returns it and the number of rounds (and fills `samples`, where given, with each
    function's seconds: a single timed call for the slow ones).

    Each function runs twice to warm up (the first call compiles); then rounds run each function once,
    until `max_rounds`, or `budget` seconds are spent after at least `min_rounds` (fewer if the functions
    still in the rounds take over three budgets); a function `GIVE_UP` times slower than the fastest
    leaves the rounds. Functions slower than `SLOW_SECONDS` get a single timed call. The order
    rotates from round to round (`environment.rotated`). Within a round, a function much faster than the
    slowest runs up to `FAST_REPEATS` times back to back, each call a sample: when direct takes seconds,
    the rounds run out before the FFT's 50 ms calls have enough samples for their fastest to be stable
    (identical "auto" and "fft" programs differed by 1.12-1.18x on 5 samples each).
    """
    slow, warm = {}, {}
    for name, fn in functions.items():
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        if elapsed > VERY_SLOW_SECONDS:
            slow[name] = elapsed
            continue
        # A second call: the first one compiles (jit, tf.function), which says little of a call's time.
        start = time.perf_counter()
        fn()
        warm[name] = time.perf_counter() - start
        if warm[name] > SLOW_SECONDS:
            slow[name] = warm[name]
    times = {name: [] for name in functions if name not in slow}
    names = list(times)
    slowest = max((warm[name] for name in names), default=0.0)
    repeats = {name: max(1, min(FAST_REPEATS, int(slowest / (2 * warm[name])))) for name in names}
    rounds = 1
    for round_index in range(max_rounds if times else 0):
        rounds = round_index + 1
        for name in rotated(names, round_index):
            for _ in range(repeats[name]):
                start = time.perf_counter()
                functions[name]()
                times[name].append(time.perf_counter() - start)
        # A function `GIVE_UP` times slower than the fastest is not the fastest, nor within any target of
        # it: its samples so far stand, and the rounds go on with the others (one round had decided a
        # point where a multi-second direct plan ran beside two FFT plans 1.2x apart).
        best = min(min(times[name]) for name in names)
        names = [name for name in names if min(times[name]) <= GIVE_UP * best]
        spent = sum(sum(times[name]) for name in names)
        if spent > budget and (round_index + 1 >= min_rounds or spent > 3 * budget):
            break
    if samples is not None:
        samples.update({**times, **{name: [seconds] for name, seconds in slow.items()}})
    return {**{name: statistic(values) for name, values in times.items()}, **slow}, rounds


# --- operands ------------------------------------------------------------------------------------------


def operands(rank, size, k, channels, batch, seed=0):
    """Input (channels_last) and kernel (*k, in, out), float32."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, *[size] * rank, channels), dtype=np.float32)
    w = rng.standard_normal((*[k] * rank, channels, channels), dtype=np.float32)
    w /= np.sqrt(w[..., 0].size)
    return x, w


def choice_and_memory(x, w, padding):
    """The algorithm `"auto"` picks for `conv(x, w, padding=...)` and the FFT plan `"fft"` runs."""
    from structconv.ops.arguments import conv_arguments
    from structconv.ops.conv import prepare_conv

    args = conv_arguments(x.ndim - 2, padding=padding, default_data_format="channels_last")
    problem, plan = prepare_conv(x, w, args)
    fft = prepare_conv(x, w, conv_arguments(x.ndim - 2, padding=padding, algorithm="fft"))[1].fft
    return plan.algorithm, fft


def structconv_functions(padding, algorithms=ALGORITHMS):
    """`ops.conv` with each of `algorithms`, compiled for the worker's Keras backend."""
    from structconv import ops
    from structconv.demo.large_kernel import compiled_forward

    return {
        a: compiled_forward(lambda x, w, a=a: ops.conv(x, w, padding=padding, algorithm=a))
        for a in algorithms
    }


# --- workers ---------------------------------------------------------------------------------------------


def emit(record):
    print(json.dumps(record), flush=True)


# (rank, size, kernel size, batch, channels, filters, training): shapes outside the crossover sweeps.
WIDE = [
    (1, 65536, 129, 1, 1, 1, False), (1, 4096, 31, 8, 16, 16, False), (1, 16384, 63, 2, 4, 4, True),
    (1, 2048, 15, 4, 32, 32, False),
    (2, 128, 15, 8, 1, 4, False), (2, 96, 9, 4, 16, 16, False), (2, 64, 13, 2, 32, 32, True),
    (2, 128, 21, 1, 4, 4, True), (2, 200, 7, 2, 3, 16, False),
    (3, 32, 7, 2, 4, 4, False), (3, 24, 9, 1, 16, 16, False), (3, 32, 5, 4, 2, 2, True),
    (3, 20, 11, 2, 8, 8, True),
    (4, 12, 5, 2, 4, 8, False), (4, 10, 3, 4, 16, 16, False), (4, 12, 4, 1, 2, 2, True),
]
QUICK_WIDE = WIDE[::5]


WIDTHS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
BATCHES = (1, 2, 4, 8, 16, 32)


def draws(seed, max_channels, max_batch):
    """A `random.Random` seeded with `seed`, and the channel counts and batch sizes a drawn shape may take
    (those of `WIDTHS` and `BATCHES` up to the limits)."""
    return (random.Random(seed), tuple(w for w in WIDTHS if w <= max_channels),
            tuple(b for b in BATCHES if b <= max_batch))


def random_points(count, seed, max_channels=16, max_batch=4):
    """`count` shapes drawn at random (`seed`): ranks 1-4, 2^11-2^17 samples, kernels of at least 10 taps,
    1-`max_channels` channels (of `WIDTHS`), batch 1-`max_batch` (of `BATCHES`), a third of them training
    steps; none with a direct plan of over 20 Gflop. Shapes no sweep, `WIDE` or calibration grid was chosen
    from, to test "auto" beyond them (the defaults draw the same shapes as before the limits were options)."""
    rng, widths, batches = draws(seed, max_channels, max_batch)
    points = []
    while len(points) < count:
        rank = rng.randint(1, 4)
        size = max(8, round((2 ** rng.uniform(11, 17)) ** (1 / rank)))
        k = rng.randint((10, 4, 3, 2)[rank - 1], min((255, 31, 13, 7)[rank - 1], size // 2))
        channels = rng.choice(widths)
        filters = channels if rng.random() < 0.5 else rng.choice(widths)
        batch, training = rng.choice(batches), rng.random() < 1 / 3
        if 2 * batch * size**rank * k**rank * channels * filters * (3 if training else 1) <= 2e10:
            points.append((rank, size, k, batch, channels, filters, training))
    return points


def sweep_points(sweeps, wide, extra=()):
    for rank, (size, kernels) in sweeps.items():
        for k in kernels:
            yield "sweep", rank, size, k, BATCH, CHANNELS, CHANNELS, False
    for point in wide:
        yield ("wide", *point)
    for point in extra:
        yield ("random", *point)


def picks(problem, shipped, calibrated):
    """The plans to time for one problem: best direct, "fft", and "auto" by the shipped model, by the
    calibrated model, and by measured planning (with its measuring time)."""
    from structconv import config
    from structconv.ops import candidate_plans, planner

    budget = config.fft_memory_budget()
    chosen = {}
    for name, profile in (("shipped", shipped), ("calibrated", calibrated)):
        if profile is not None:
            candidates = candidate_plans.candidates(problem, profile)
            chosen[name] = planner.allowed(problem, candidates, "auto", profile, budget, "off")[0]
    in_force = calibrated or shipped
    candidates = candidate_plans.candidates(problem, in_force)
    chosen["direct"] = planner.allowed(problem, candidates, "direct", in_force, budget)[0]
    chosen["fft"] = planner.allowed(problem, candidates, "fft", in_force, budget)[0]
    config.set_autotune("uncertain")
    start = time.perf_counter()
    chosen["measured"] = planner.plan_conv(problem, "auto")
    return chosen, time.perf_counter() - start


def sweep_worker(backend, points, budget, profiles=()):
    from structconv._backend import get_backend
    from structconv.ops import planner
    from structconv.ops.execute import execute
    from structconv.tuning import fingerprint, profile
    from structconv.tuning.autotune import low_quantile
    from structconv.tuning.square_problem import square_problem

    measure_afresh()
    machine = fingerprint.fingerprint(backend, "cpu")
    shipped = profile.shipped_for(machine)
    calibrated = profile.calibrated(backend, "cpu", fingerprint.fingerprint_id(machine))
    if profiles:  # `--profiles`: two profile files in the places of the shipped and the calibrated one
        shipped, calibrated = (profile.from_dict(json.load(open(path)), "calibrated") for path in profiles)
    for part, rank, size, k, batch, channels, filters, training in points:
        problem = square_problem(backend, "cpu", rank, size, k, batch, channels, filters, training=training)
        planner.clear_plans()
        chosen, measuring = picks(problem, shipped, calibrated)
        plans = {plan.label: plan for plan in chosen.values()}
        rng = np.random.default_rng(0)
        arrays = [rng.standard_normal((batch, *[size] * rank, channels), dtype=np.float32),
                  rng.standard_normal((*[k] * rank, channels, filters), dtype=np.float32) / k ** (rank / 2)]
        runs = {label: get_backend().compile_for_timing(
            lambda x, w, plan=plan, problem=problem: execute(plan, problem, x, w), arrays, training, "cpu")
            for label, plan in plans.items()}
        # The measured pick once more, compiled apart: two identical programs in the same rounds show how
        # far this machine's timing alone moves a ratio (the noise floor of the table's verdicts).
        runs[AGAIN] = get_backend().compile_for_timing(
            lambda x, w, plan=chosen["measured"], problem=problem: execute(plan, problem, x, w), arrays,
            training, "cpu")
        samples = {}
        times, rounds = measure_interleaved(runs, budget, max_rounds=41, min_rounds=5, statistic=STATISTIC,
                                            samples=samples)
        emit({"part": part, "backend": backend, "rank": rank, "size": size, "k": k, "batch": batch,
              "channels": channels, "filters": filters, "training": training, "rounds": rounds,
              "times": times, "quartile_times": {name: low_quantile(seen) for name, seen in samples.items()},
              "picks": {name: plan.label for name, plan in chosen.items()},
              "measured_source": chosen["measured"].source, "measuring_seconds": measuring,
              # what measuring saw (None: the candidate failed to run), to tell a noisy pick from a failure
              "measured_us": dict(chosen["measured"].measured_us),
              "calibrated": calibrated is not None})


def torch_peer_worker(cases, budget):
    import torch
    from fft_conv_pytorch import fft_conv as peer_fft_conv

    from structconv import ops

    for name, case in cases.items():
        if not name.startswith("torch"):
            continue
        rank = case["rank"]
        x_np, w_np = operands(rank, case["size"], case["k"], case["channels"], case["batch"])
        x, w = torch.from_numpy(x_np), torch.from_numpy(w_np)
        # fft_conv_pytorch takes torch's layouts: channels_first input, (out, in, *k) kernel.
        x_cf = x.movedim(-1, 1).contiguous()
        w_oi = w.permute(rank + 1, rank, *range(rank)).contiguous()
        native = getattr(torch.nn.functional, f"conv{rank}d")
        functions = {
            "structconv fft (channels_last)": partial(ops.conv, x, w, algorithm="fft"),
            "structconv fft (channels_first)": partial(ops.conv, x_cf, w, algorithm="fft",
                                                       data_format="channels_first"),
            "structconv auto": partial(ops.conv, x, w, algorithm="auto"),
            "fft_conv_pytorch": partial(peer_fft_conv, x_cf, w_oi),
            "torch direct": partial(native, x_cf, w_oi),
        }
        with torch.no_grad():
            ours = functions["structconv fft (channels_first)"]().numpy()
            theirs = functions["fft_conv_pytorch"]().numpy()
        error = float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))

        def no_grad(fn):
            def run():
                with torch.no_grad():
                    fn()

            return run

        medians, rounds = measure_interleaved({n: no_grad(f) for n, f in functions.items()}, budget,
                                              statistic=STATISTIC)
        emit({"part": "peers", "backend": "torch", "case": name, "rounds": rounds, "error": error,
              "times": medians})


def scipy_peer_worker(backend, cases, budget):
    """structconv fft on `backend` next to `scipy.signal.fftconvolve` / `oaconvolve` (single channel)."""
    from scipy import signal

    from structconv import ops

    for name, case in cases.items():
        if not name.startswith("scipy"):
            continue
        rank = case["rank"]
        x_np, w_np = operands(rank, case["size"], case["k"], 1, 1)
        x, w = to_backend(x_np, backend), to_backend(w_np, backend)
        flipped = np.ascontiguousarray(w_np[(..., 0, 0)][(slice(None, None, -1),) * rank])
        plain = np.ascontiguousarray(x_np[(0, ..., 0)])
        fft_fn = structconv_functions("valid", ("fft",))["fft"]
        auto_fn = structconv_functions("valid", ("auto",))["auto"]
        functions = {
            "structconv fft": partial(fft_fn, x, w),
            "structconv auto": partial(auto_fn, x, w),
            "scipy fftconvolve": partial(signal.fftconvolve, plain, flipped, mode="valid"),
            "scipy oaconvolve": partial(signal.oaconvolve, plain, flipped, mode="valid"),
        }
        import keras

        ours = keras.ops.convert_to_numpy(ops.conv(x, w, algorithm="fft"))[(0, ..., 0)]
        theirs = signal.fftconvolve(plain.astype(np.float64), flipped.astype(np.float64), mode="valid")
        error = float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))
        medians, rounds = measure_interleaved(functions, budget, statistic=STATISTIC)
        emit({"part": "peers", "backend": backend, "case": name, "rounds": rounds, "error": error,
              "times": medians})


def memory_worker(backend, budget):
    from structconv import config

    case = MEMORY_CASE
    x_np, w_np = operands(case["rank"], case["size"], case["k"], case["channels"], case["batch"])
    x, w = to_backend(x_np, backend), to_backend(w_np, backend)
    chosen, plan = choice_and_memory(x_np, w_np, "same")
    memory = plan.memory
    auto = structconv_functions("same", ("auto",))["auto"]
    medians, rounds = measure_interleaved({"auto": lambda: auto(x, w)}, budget, max_rounds=5,
                                          statistic=STATISTIC)
    emit({"part": "memory", "backend": backend, "chosen": chosen, "memory": memory,
          "budget_bytes": config.fft_memory_budget(), "seconds": medians["auto"], "rounds": rounds})


def run_worker(backend, quick, budget, threads, statistic="median", extra=(), profiles=()):
    global STATISTIC
    STATISTIC = STATISTICS[statistic]
    limit_threads(threads)
    sweeps, wide = (QUICK_SWEEPS, QUICK_WIDE) if quick else (SWEEPS, WIDE)
    sweep_worker(backend, list(sweep_points(sweeps, wide, extra)), budget, profiles)
    peer_cases = {k: v for k, v in PEER_CASES.items() if not quick or k in ("torch-2d", "scipy-2d")}
    if backend == "torch":
        torch_peer_worker(peer_cases, budget)
    scipy_peer_worker(backend, peer_cases, budget)
    memory_worker(backend, budget)


# --- driver ----------------------------------------------------------------------------------------------


def collect(backends, quick, budget, threads, statistic="median", random_count=0, seed=0, max_channels=16,
            max_batch=4, profiles=()):
    records = []
    for backend in backends:
        arguments = ["--budget", str(budget), "--threads", str(threads), "--statistic", statistic,
                     "--random", str(random_count), "--seed", str(seed), "--max-channels", str(max_channels),
                     "--max-batch", str(max_batch)] + (["--profiles", *profiles] if profiles else [])
        found, ok = run_worker_process(__file__, backend, arguments + (["--quick"] if quick else []), 1800)
        if not ok:
            raise SystemExit(f"{backend} worker failed")
        records += found
    return records


def ms(seconds):
    return f"{seconds * 1e3:.1f}" if seconds < 10 else f"{seconds * 1e3:.0f}"


MEASURED_TARGET = 1.05
PICKS = ("shipped", "calibrated", "measured")
AGAIN = "measured pick, compiled again"


def same_plan_spread(times, picks):
    """The slower over the faster of the two identical programs of the measured pick (None in records
    written before they were timed)."""
    if AGAIN not in times:
        return None
    pair = times[picks["measured"]], times[AGAIN]
    return max(pair) / min(pair)


def point_name(r):
    step = "training" if r["training"] else "forward"
    return (f"{r['rank']}-D {r['size']}^{r['rank']}, k={r['k']}, B={r['batch']}, "
            f"{r['channels']}->{r['filters']}, {step}")


def sweep_table(records, backends, names=PICKS):
    """One row per point and backend: direct and fft times, and each pick's time over the fastest
    (`names`: the picks' names in the table and the verdicts)."""
    rows = [r for r in records if r["part"] in ("sweep", "wide", "random")]
    lines = ["| point | backend | direct ms | fft ms | " + " | ".join(f"{n} / min" for n in names)
             + " | same plan twice | measuring s |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    summary = {b: {name: [] for name in PICKS} for b in backends}
    spreads, faster_copy = [], []
    order = {"sweep": 0, "wide": 1, "random": 2}
    for r in sorted(rows, key=lambda r: (order[r["part"]], r["rank"], r["size"], r["k"], r["batch"],
                                         r["backend"])):
        times, picks = r["times"], r["picks"]
        fastest = min(seconds for name, seconds in times.items() if name != AGAIN)
        spread = same_plan_spread(times, picks)
        cells = []
        for name in PICKS:
            if name not in picks:
                cells.append("-")
                continue
            ratio = times[picks[name]] / fastest
            summary[r["backend"]][name].append(ratio)
            target = MEASURED_TARGET if name == "measured" else TARGET
            cells.append(f"{ratio:.2f}{' **miss**' if ratio > target else ''}")
            if name == "measured" and spread is not None:
                spreads.append(spread)
                faster_copy.append(min(times[picks[name]], times[AGAIN]) / fastest)
        cells.append("-" if spread is None else f"{spread:.2f}")
        drawn = " (random)" if r["part"] == "random" else ""
        lines.append(f"| {point_name(r)}{drawn} | {r['backend']} | {ms(times[picks['direct']])} | "
                     f"{ms(times[picks['fft']])} | " + " | ".join(cells)
                     + f" | {r['measuring_seconds']:.1f} |")
    verdicts = []
    for b, by_pick in summary.items():
        for name, ratios in by_pick.items():
            if ratios:
                target = MEASURED_TARGET if name == "measured" else TARGET
                within = sum(x <= target for x in ratios)
                verdicts.append(f"{b} {dict(zip(PICKS, names))[name]}: within {target} at {within}/"
                                f"{len(ratios)} points, worst {max(ratios):.2f}")
    if spreads:
        verdicts.append(
            f"same plan twice: median {statistics.median(spreads):.2f}, worst {max(spreads):.2f} over "
            f"{len(spreads)} points; the measured pick read from the faster of its two copies (which favours "
            f"it: the other plans have one): within {TARGET} at {sum(x <= TARGET for x in faster_copy)}, "
            f"within {MEASURED_TARGET} at {sum(x <= MEASURED_TARGET for x in faster_copy)}, worst "
            f"{max(faster_copy):.2f}")
    return "\n".join(lines), "; ".join(verdicts), summary


def peer_table(records):
    peers = [r for r in records if r["part"] == "peers"]
    lines = ["| case | backend | implementation | ms | peer / structconv fft | max rel. difference |",
             "|---|---|---|---:|---:|---:|"]
    verdicts = []
    for r in peers:
        case = PEER_CASES[r["case"]]
        ours = r["times"].get("structconv fft (channels_last)", r["times"].get("structconv fft"))
        shape = "x".join([str(case["size"])] * case["rank"])
        label = f"{r['case']}: {shape}, k={case['k']}, {case['channels']} ch, batch {case['batch']}"
        for name, seconds in r["times"].items():
            ratio = "" if name.startswith("structconv") or name == "torch direct" else f"{seconds / ours:.2f}"
            if ratio:
                verdicts.append({"case": r["case"], "backend": r["backend"], "peer": name,
                                 "peer_over_ours": seconds / ours})
            lines.append(f"| {label} | {r['backend']} | {name} | {ms(seconds)} | {ratio} "
                         f"| {r['error']:.1e} |")
    return "\n".join(lines), verdicts


def memory_table(records):
    lines = ["| backend | chosen | FFT memory estimate | budget | auto ms |", "|---|---|---:|---:|---:|"]
    for r in records:
        if r["part"] == "memory":
            lines.append(f"| {r['backend']} | {r['chosen']} | {r['memory'] / 2**20:.0f} MiB | "
                         f"{r['budget_bytes'] / 2**20:.0f} MiB | {ms(r['seconds'])} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a subset with fewer repeats (smoke test)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="subset of " + ",".join(BACKENDS))
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds of timed rounds per point after warm-up (default 1.5, quick 0.3)")
    parser.add_argument("--threads", type=int, default=0,
                        help="threads per framework (0: the frameworks' defaults, all cores)")
    parser.add_argument("--statistic", choices=tuple(STATISTICS), default="min",
                        help="summary of each point's interleaved rounds (default min: the least disturbed "
                             "by other load)")
    parser.add_argument("--json", metavar="PATH",
                        help="also write the raw results, the verdicts and the Markdown tables as JSON")
    parser.add_argument("--random", type=int, default=0, metavar="N",
                        help="also N shapes drawn at random (`random_points`), outside every sweep")
    parser.add_argument("--seed", type=int, default=0, help="the seed of --random's shapes")
    parser.add_argument("--max-channels", type=int, default=16, choices=WIDTHS,
                        help="the most input and output channels of --random's shapes")
    parser.add_argument("--max-batch", type=int, default=4, choices=BATCHES,
                        help="the largest batch of --random's shapes")
    parser.add_argument("--profiles", nargs=2, metavar=("A", "B"), default=(),
                        help="two profile files (JSON, as `structconv calibrate` stores them) in the places "
                             "of the shipped and the calibrated profile: two settings of the model timed in "
                             "the same rounds, which is how a change to the model is judged")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    options = parser.parse_args()
    budget = options.budget if options.budget is not None else (0.3 if options.quick else 1.5)
    if options.worker:
        run_worker(options.worker, options.quick, budget, options.threads, options.statistic,
                   random_points(options.random, options.seed, options.max_channels, options.max_batch),
                   options.profiles)
        return
    started = time.perf_counter()
    backends = [b for b in options.backends.split(",") if b]
    records = collect(backends, options.quick, budget, options.threads, options.statistic, options.random,
                      options.seed, options.max_channels, options.max_batch, options.profiles)
    names = (*(f"profile {os.path.basename(path)}" for path in options.profiles), "measured") \
        if options.profiles else PICKS
    sweep, worst, summary_by_pick = sweep_table(records, backends, names)
    # The same rounds read by the statistic measuring decides by (`autotune.low_quantile`): the fastest
    # round can be a rare fast call (JAX's FFT plans here: 1 call in ~30 at 1.5x the speed of the others).
    by_quartile = [{**r, "times": r["quartile_times"]} for r in records if "quartile_times" in r]
    quartile_verdicts = sweep_table(by_quartile, backends, names)[1] if by_quartile else ""
    peers, verdicts = peer_table(records)
    summary = "fastest round" if options.statistic == "min" else "median of the rounds"
    lines = [
        f"## FFT convolution{' (--quick)' if options.quick else ''}\n",
        f"Machine: {machine()}; {options.threads or os.cpu_count()} thread(s) per framework; load average "
        f"{os.getloadavg()[0]:.1f} at the end. Each time is the {summary} of interleaved rounds.\n",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions(PACKAGES).items()) + "\n",
        "### (a) How good auto is: crossover sweeps (batch 2, 8 -> 8 channels) and wider shapes, padding "
        "same, float32\n",
        sweep,
        "\nEach pick's time over the fastest plan timed at the point (the best direct plan, the plan of "
        "algorithm='fft', and the three picks), from the same interleaved rounds. "
        + ("The two `profile` columns: the cost model alone with each profile file of `--profiles`; "
           if options.profiles else
           "`shipped`: the cost model with the shipped profile; `calibrated`: with the profile `structconv "
           "calibrate` stored for this machine and thread count; ")
        + "`measured`: measured planning (the default), whose first-call cost is "
        "`measuring s`. `same plan twice`: the measured pick compiled twice and timed in the same rounds, "
        f"the slower over the faster (the timing's own noise at the point). {worst}. Targets: shipped and "
        f"calibrated <= {TARGET}, measured <= {MEASURED_TARGET}."
        + (f" By the 25th-percentile call of the same rounds (the statistic measuring decides by): "
           f"{quartile_verdicts}." if quartile_verdicts else ""),
        "\n### (b) Next to peers (valid, float32, forward)\n",
        peers,
        f"\n### (c) {MEMORY_CASE['channels']} -> {MEMORY_CASE['channels']} channels, "
        f"{MEMORY_CASE['size']}^3, k={MEMORY_CASE['k']}, padding same, batch {MEMORY_CASE['batch']}, "
        "algorithm auto\n",
        memory_table(records),
        f"\nTotal run time: {time.perf_counter() - started:.0f} s. Command: `{' '.join(sys.argv)}`.",
    ]
    markdown = "\n".join(lines)
    print(markdown)
    if options.json:
        with open(options.json, "w") as out:
            json.dump({"machine": machine(), "versions": versions(PACKAGES),
                       "quick": options.quick, "budget": budget,
                       "threads": options.threads or os.cpu_count(), "statistic": options.statistic,
                       "load_average": os.getloadavg(), "records": records, "summary": summary_by_pick,
                       "peers": verdicts, "markdown": markdown}, out, indent=2)

if __name__ == "__main__":
    main()
