"""FFT convolution on CPU: where `algorithm="auto"` switches, how FFT compares to its peers, and memory.

    flock /tmp/structconv-bench.lock .venv/bin/python benchmarks/fft.py [--quick] [--threads N]
        [--json results.json]

One run, one subprocess per Keras backend (`KERAS_BACKEND` is fixed per process), results side by side:

(a) crossover sweeps, batch 2, 8 -> 8 channels, padding "same", float32, channels_last: 1-D length 16384
    with kernels 3..511, 2-D 256^2 with kernels 3..31, 3-D 48^3 with kernels 3..15, 4-D 20^4 with kernels
    2..7. At each point `structconv.ops.conv` with `algorithm="direct"`, `"fft"` and `"auto"` (forward),
    the ratio `auto / min(direct, fft)` (target: <= 1.15 at every point), and the same ratio with the time
    of the algorithm auto chose in place of auto's own (the choice's quality without a third timing's noise);
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
machine) or the median (`--statistic median`); a call slower than 5 s is timed once after its warm-up.
`--threads N` caps every framework at N threads (the default, 0, leaves them all cores). `--quick` runs a
subset with fewer repeats (a smoke test, not for reporting). Wrap every run in
`flock /tmp/structconv-bench.lock` on a shared machine.
"""

import argparse
import json
import os
import statistics
import sys
import time
from functools import partial

import numpy as np
from environment import machine, rotated, run_worker_process, to_backend, versions  # noqa: E402  (this folder is on sys.path)

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



FAST_REPEATS = 4  # calls per round of a function at least 8x faster than the slowest of its round
SLOW_SECONDS = 5.0  # a call slower than this is timed once after its warm-up, outside the rounds
VERY_SLOW_SECONDS = 30.0  # a warm-up slower than this is its only sample (compilation is a small part)


def measure_interleaved(functions, budget, max_rounds=7, min_rounds=3, statistic=statistics.median):
    """`statistic` (median) of the seconds of each of `functions` (a dict) after warm-up, timed in
    interleaved rounds; returns it and the number of rounds.

    Each function runs once (twice when cheap) to warm up; then rounds run each function once, until
    `max_rounds`, or `budget` seconds are spent after at least `min_rounds` (one round if a single call
    already exceeds the budget). Functions slower than `SLOW_SECONDS` get a single timed call. The order
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
        elif elapsed > SLOW_SECONDS:
            start = time.perf_counter()
            fn()
            slow[name] = time.perf_counter() - start
        elif elapsed < budget / 20:
            fn()
        warm[name] = elapsed
    times = {name: [] for name in functions if name not in slow}
    spent = 0.0
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
                elapsed = time.perf_counter() - start
                times[name].append(elapsed)
                spent += elapsed
        if spent > budget and (round_index + 1 >= min_rounds or spent > 3 * budget):
            break
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
    """The algorithm `"auto"` picks for `conv(x, w, padding=...)` and the FFT plan `"fft"` runs (geometry,
    kernel transform, memory estimate in bytes)."""
    import keras

    from structconv import config
    from structconv.ops import algorithm as algo
    from structconv.ops.arguments import choose_for_conv, conv_arguments, resolve_padding, split_shape

    rank = x.ndim - 2
    args = conv_arguments(rank, padding=padding, default_data_format="channels_last")
    spatial, channels = split_shape(tuple(x.shape), args.data_format)
    kernel_size = tuple(w.shape[:rank])
    pads = resolve_padding(spatial, kernel_size, args)
    plan = algo.fft_plan(spatial, kernel_size, kernel_size, pads, "zeros", x.shape[0], channels, w.shape[-1],
                         1, 4, keras.backend.backend(), config.fft_memory_budget())
    return choose_for_conv(x, w, args, pads), plan


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


def sweep_worker(backend, sweeps, budget):
    for rank, (size, kernels) in sweeps.items():
        for k in kernels:
            x_np, w_np = operands(rank, size, k, CHANNELS, BATCH)
            x, w = to_backend(x_np, backend), to_backend(w_np, backend)
            chosen, plan = choice_and_memory(x_np, w_np, "same")
            functions = structconv_functions("same")
            medians, rounds = measure_interleaved(
                {a: lambda f=f, x=x, w=w: f(x, w) for a, f in functions.items()}, budget, max_rounds=41,
                min_rounds=5, statistic=STATISTIC,
            )
            # The plan is recorded so that `calibrate_fft.py --also` can fit these times too.
            emit({"part": "sweep", "backend": backend, "rank": rank, "size": size, "k": k, "chosen": chosen,
                  "memory": plan.memory, "geometry": plan.geometry, "kernel_by_dft": plan.kernel_by_dft,
                  "rounds": rounds, **{a: medians[a] for a in ALGORITHMS}})


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


def run_worker(backend, quick, budget, threads, statistic="median"):
    global STATISTIC
    STATISTIC = STATISTICS[statistic]
    limit_threads(threads)
    sweeps = QUICK_SWEEPS if quick else SWEEPS
    sweep_worker(backend, sweeps, budget)
    peer_cases = {k: v for k, v in PEER_CASES.items() if not quick or k in ("torch-2d", "scipy-2d")}
    if backend == "torch":
        torch_peer_worker(peer_cases, budget)
    scipy_peer_worker(backend, peer_cases, budget)
    memory_worker(backend, budget)


# --- driver ----------------------------------------------------------------------------------------------


def collect(backends, quick, budget, threads, statistic="median"):
    records = []
    for backend in backends:
        arguments = ["--budget", str(budget), "--threads", str(threads), "--statistic", statistic]
        found, ok = run_worker_process(__file__, backend, arguments + (["--quick"] if quick else []), 1800)
        if not ok:
            raise SystemExit(f"{backend} worker failed")
        records += found
    return records


def ms(seconds):
    return f"{seconds * 1e3:.1f}" if seconds < 10 else f"{seconds * 1e3:.0f}"


def sweep_table(records, backends):
    sweeps = [r for r in records if r["part"] == "sweep"]
    points = sorted({(r["rank"], r["size"], r["k"]) for r in sweeps})
    index = {(r["backend"], r["rank"], r["k"]): r for r in sweeps}
    header = "| rank, size | k |" + "".join(
        f" {b}: direct / fft / auto ms | chose | auto / min | chosen / min |" for b in backends
    )
    lines = [header, "|---|---:|" + "---:|---|---:|---:|" * len(backends)]
    worst = {b: (0.0, None) for b in backends}
    wrong = {b: (0.0, None) for b in backends}
    misses = []
    for rank, size, k in points:
        cells = []
        for b in backends:
            r = index.get((b, rank, k))
            if r is None:
                cells += ["", "", "", ""]
                continue
            ratio = r["auto"] / min(r["direct"], r["fft"])
            chosen_ratio = r[r["chosen"]] / min(r["direct"], r["fft"])
            faster = "direct" if r["direct"] <= r["fft"] else "fft"
            if ratio > worst[b][0]:
                worst[b] = (ratio, (rank, k))
            if chosen_ratio > wrong[b][0]:
                wrong[b] = (chosen_ratio, (rank, k))
            mark = ""
            if ratio > TARGET:
                mark = " **miss**"
                misses.append({"backend": b, "rank": rank, "k": k, "ratio": ratio,
                               "chosen_ratio": chosen_ratio})
            chose = r["chosen"] + ("" if r["chosen"] == faster else f" (faster: {faster})")
            cells += [f"{ms(r['direct'])} / {ms(r['fft'])} / {ms(r['auto'])}", chose, f"{ratio:.2f}{mark}",
                      f"{chosen_ratio:.2f}{' **wrong**' if chosen_ratio > TARGET else ''}"]
        lines.append(f"| {rank}-D {size}^{rank} | {k} | " + " | ".join(cells) + " |")
    summary = "; ".join(
        f"{b}: worst auto / min {w[0]:.2f} (rank {w[1][0]}, k={w[1][1]}), worst chosen / min "
        f"{wrong[b][0]:.2f} (rank {wrong[b][1][0]}, k={wrong[b][1][1]})"
        for b, w in worst.items() if w[1]
    )
    return "\n".join(lines), summary, misses


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
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    options = parser.parse_args()
    budget = options.budget if options.budget is not None else (0.3 if options.quick else 1.5)
    if options.worker:
        run_worker(options.worker, options.quick, budget, options.threads, options.statistic)
        return
    started = time.perf_counter()
    backends = [b for b in options.backends.split(",") if b]
    records = collect(backends, options.quick, budget, options.threads, options.statistic)
    sweep, worst, misses = sweep_table(records, backends)
    peers, verdicts = peer_table(records)
    summary = "fastest round" if options.statistic == "min" else "median of the rounds"
    lines = [
        f"## FFT convolution{' (--quick)' if options.quick else ''}\n",
        f"Machine: {machine()}; {options.threads or os.cpu_count()} thread(s) per framework; load average "
        f"{os.getloadavg()[0]:.1f} at the end. Each time is the {summary} of interleaved rounds.\n",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions(PACKAGES).items()) + "\n",
        f"### (a) Crossover: batch {BATCH}, {CHANNELS} -> {CHANNELS} channels, padding same, float32, "
        "forward\n",
        sweep,
        "\n`auto / min` is auto's own time over the faster one's; `chosen / min` the time of the "
        "algorithm auto chose, from the same rounds, over the faster one's (the quality of the choice, "
        f"without the noise of a third timing). {worst}. Target <= {TARGET} (auto / min): "
        + ("met everywhere." if not misses else f"missed at {len(misses)} point(s)."),
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
                       "load_average": os.getloadavg(), "records": records, "misses": misses,
                       "peers": verdicts, "markdown": markdown}, out, indent=2)

if __name__ == "__main__":
    main()
