"""The decomposition's two stackings side by side, where the input and output channel counts differ, or
(`--equal-channels`) where they are equal, over volumes.

    flock /tmp/structconv-bench.lock .venv/bin/python benchmarks/stacking.py [--backends jax,torch]
        [--threads N] [--equal-channels [--training]] [--json PATH]

Above the backend's own ranks the direct algorithm peels the kernel's leading axes and stacks the peeled
taps along the input channels ("inputs") or the filters ("filters") of a lower-rank convolution
(`ops.decomposition`). Which is faster depends on the backend, the machine, the rank and whether a
gradient is taken; `structconv calibrate` fits the preference per rank (`tuning.fit.fit_stacking`). Each
shape of `SHAPES` (ranks 3 and 4, 1-16 channels, fewer inputs than filters and the reverse) is timed both
ways by measured planning's own timer (`tuning.autotune.measure`: compiled as a model runs it, forward and
with gradients), and the table gives each time and inputs/filters (above 1: the filters faster). A backend
that runs a rank itself (torch up to 3-D) has nothing to stack there and prints no row for it.
`--equal-channels` times `EQUAL_SHAPES` forward instead (4, 8 and 16 channels in and out, 3-D 16^3-56^3
and 4-D 8^4-20^4, k=3 and 5, batch 2; about 4 minutes a backend on 2 vCPUs; with `--training`, their
training steps): which stacking is faster
there moves with the channels on TensorFlow's Eigen kernels at rank 3 and with the volume on XLA
(`Strategy.decompose_inputs_min_filters_inference`, set from it in the shipped TensorFlow Eigen profile;
docs/benchmarks.md).
"""

import argparse
import dataclasses
import json
import os
import subprocess
import sys

from environment import machine  # noqa: E402  (this folder is on sys.path)

BACKENDS = ("tensorflow", "jax", "torch")
# (rank, size, kernel size, batch, channels, filters), padding "same".
SHAPES = [(3, 16, 3, 2, 2, 12), (3, 24, 5, 1, 1, 8), (3, 12, 3, 4, 4, 16), (3, 20, 3, 1, 16, 4),
          (3, 16, 5, 2, 12, 2), (4, 10, 3, 1, 2, 12), (4, 8, 3, 2, 1, 8), (4, 10, 3, 1, 12, 2),
          (3, 28, 3, 1, 3, 16), (4, 9, 4, 1, 4, 16)]
EQUAL_SHAPES = [(rank, size, k, 2, channels, channels)
                for rank, sizes in ((3, (16, 24, 32, 40, 48, 56)), (4, (8, 10, 12, 14, 16, 20)))
                for size in sizes for k in (3, 5) for channels in (4, 8, 16)]


def worker(backend, threads, equal_channels=False, training_steps=False):
    from structconv.tuning.threads import limit_threads

    limit_threads(threads)
    from structconv.ops import candidate_plans
    from structconv.tuning import autotune, fingerprint
    from structconv.tuning import profile as profiles
    from structconv.tuning.square_problem import square_problem

    shipped = profiles.shipped_for(fingerprint.fingerprint(backend, "cpu"))
    # Both stackings are candidates whatever the profile's limit on peeled taps along the filters.
    unlimited = dataclasses.replace(shipped, strategy=dataclasses.replace(
        shipped.strategy, decompose_filters_max_taps=None))
    for rank, size, k, batch, channels, filters in EQUAL_SHAPES if equal_channels else SHAPES:
        for training in ((training_steps,) if equal_channels else (False, True)):
            problem = square_problem(backend, "cpu", rank, size, k, batch, channels, filters,
                                     training=training)
            plans = [p for p in candidate_plans.candidates(problem, unlimited)
                     if p.label in ("direct:inputs", "direct:filters")]
            if len(plans) < 2:
                continue
            times = autotune.measure(problem, plans)
            print(json.dumps({"backend": backend, "rank": rank, "size": size, "k": k, "batch": batch,
                              "channels": channels, "filters": filters, "training": training,
                              "us": times}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--equal-channels", action="store_true",
                        help="time EQUAL_SHAPES forward (equal channel counts, over volumes)")
    parser.add_argument("--training", action="store_true",
                        help="with --equal-channels: time training steps (forward + backward) instead")
    parser.add_argument("--json", help="also write the records as JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.training and not options.equal_channels:
        parser.error("--training times the --equal-channels shapes' training steps: give both")
    if options.worker:
        worker(options.worker, options.threads, options.equal_channels, options.training)
        return
    records = []
    for backend in options.backends.split(","):
        command = [sys.executable, __file__, "--threads", str(options.threads), "--worker", backend,
                   *(["--equal-channels"] if options.equal_channels else []),
                   *(["--training"] if options.training else [])]
        done = subprocess.run(command, check=True, capture_output=True, text=True,
                              env=dict(os.environ, KERAS_BACKEND=backend))
        records += [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    print(f"{machine()}, {options.threads} thread(s)\n")
    print("| backend | shape | mode | inputs ms | filters ms | inputs / filters |")
    print("|---|---|---|---:|---:|---:|")
    for r in records:
        us = r["us"]
        print(f"| {r['backend']} | {r['rank']}-D {r['size']}^{r['rank']} k={r['k']} B={r['batch']} "
              f"{r['channels']}->{r['filters']} | {'training' if r['training'] else 'forward'} | "
              f"{us['direct:inputs'] / 1e3:.2f} | {us['direct:filters'] / 1e3:.2f} | "
              f"{us['direct:inputs'] / us['direct:filters']:.2f} |")
    if options.json:
        with open(options.json, "w") as handle:
            json.dump({"machine": machine(), "threads": options.threads, "records": records}, handle)


if __name__ == "__main__":
    main()
