"""Convolutions of odd channel counts (RGB images, decompositions of 3 channels) and of many input channels
into few filters: `keras.ops.conv` (what Keras's layers run), structconv's direct plan as it is, on one zero
channel more (`direct:...:even`, `ops.even_channels`), with one output row more on zero padding where it has
none (`direct:...:row`, `ops.padded_row`), and "auto" (measured planning), side by side in one run.

    flock /tmp/structconv-bench.lock .venv/bin/python benchmarks/odd_channels.py [--backends jax]
        [--threads 2] [--budget 1.0] [--json PATH]

JAX's CPU convolution (XLA's YNNPACK kernels) ran some 2-D convolutions of 3, 5 and 7 input channels 3-15x
slower than of 4, 6 and 8, and unpadded ones of more than 16 input channels up to 23x slower than with
one output row more on zero padding; the planner offers those twins where the backend says so
(`odd_channels_slow`, `unpadded_slow`) and measuring decides. Each shape (`SHAPES`: float32,
channels_last, padding "same" unless named "valid") is timed forward and as a training step (forward +
backward), each implementation compiled as a model runs it (`compile_for_timing`: jit, tf.function, eager
torch) and timed in interleaved rounds (the median call); "auto" is measured afresh (no plan file) and its
plan and measuring time reported. A backend that offers no twin prints "-" in its column.
"""

import argparse
import json
import statistics
import time

from environment import budgeted_times, machine, measure_afresh, run_worker_process  # noqa: E402  (this folder is on sys.path)

BACKENDS = ("jax",)
# (name, input shape, kernel size, filters, strides)
SHAPES = [
    ("RGB 64^2, 3x3 -> 32", (8, 64, 64, 3), (3, 3), 32, 1),
    ("RGB 224^2, 7x7 -> 64, stride 2 (ResNet's stem)", (2, 224, 224, 3), (7, 7), 64, 2),
    ("RGB 112^2, 3x3 -> 24", (4, 112, 112, 3), (3, 3), 24, 1),
    ("RGB 56^2, 3x3 -> 21", (8, 56, 56, 3), (3, 3), 21, 1),
    ("RGB 224^2, 7x7 -> 21", (1, 224, 224, 3), (7, 7), 21, 1),
    ("5 channels 56^2, 3x3 -> 24", (8, 56, 56, 5), (3, 3), 24, 1),
    ("RGB 32^2, 5x5 -> 16", (16, 32, 32, 3), (5, 5), 16, 1),
    ("3-D 24^3, 3 -> 8, k=3", (2, 24, 24, 24, 3), (3, 3, 3), 8, 1),
    ("4-D 13^4, 3 -> 3, k=3", (1, 13, 13, 13, 13, 3), (3, 3, 3, 3), 3, 1),
    ("64 channels 54x64, 5x5 -> 3, valid", (8, 54, 64, 64), (5, 5), 3, 1),
    ("64 channels 54x64, 5x5 -> 3", (8, 54, 64, 64), (5, 5), 3, 1),
    ("32 channels 54x64, 6x6 -> 2, valid", (8, 54, 64, 32), (6, 6), 2, 1),
    ("32 channels 56^2, 3x3 -> 16, valid", (8, 56, 56, 32), (3, 3), 16, 1),
    ("64 channels 56^2, 1x1 -> 64", (8, 56, 56, 64), (1, 1), 64, 1),
    ("128 channels 28^2, 3x3 -> 128, valid", (8, 28, 28, 128), (3, 3), 128, 1),
    ("3-D 16x24x24, 16 -> 2, k=6x5x5, valid", (4, 16, 24, 24, 16), (6, 5, 5), 2, 1),
]
# The twins `ops.candidate_plans` may offer beside a direct plan, by the `Plan` field that marks them.
TWINS = {"even": "even_channels", "row": "padded_row"}


def worker(backend, threads, budget):
    from structconv.tuning.threads import limit_threads

    limit_threads(threads)
    import keras
    import numpy as np

    from structconv import config
    from structconv._backend import get_backend
    from structconv.ops import candidate_plans, planner
    from structconv.ops.arguments import conv_arguments
    from structconv.ops.conv import prepare_conv
    from structconv.ops.execute import execute

    measure_afresh()
    module = get_backend()
    rng = np.random.default_rng(0)
    for name, input_shape, kernel_size, filters, strides in SHAPES:
        x = rng.standard_normal(input_shape).astype("float32")
        k = rng.standard_normal((*kernel_size, input_shape[-1], filters)).astype("float32")
        padding = "valid" if name.endswith("valid") else "same"
        for training in (False, True):
            args = conv_arguments(len(kernel_size), strides=strides, padding=padding, algorithm="direct")
            config.set_autotune("off")  # the problem only: "auto" is planned (and measured) below
            problem, _ = prepare_conv(keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(k), args,
                                      training)
            config.set_autotune("uncertain")
            direct = [p for p in candidate_plans.candidates(problem) if p.algorithm == "direct"]
            plain = min((p for p in direct if not any(getattr(p, field) for field in TWINS.values())),
                        key=lambda p: p.modelled_us)
            planner.clear_plans()
            start = time.perf_counter()
            auto = planner.plan_conv(problem, "auto")
            measuring = time.perf_counter() - start
            plans = {"direct": plain, "auto": auto}
            for twin, field in TWINS.items():
                found = [p for p in direct if getattr(p, field)]
                if found:
                    plans[twin] = min(found, key=lambda p: p.modelled_us)
            runs = {label: module.compile_for_timing(
                        lambda a, b, plan=plan, p=problem: execute(plan, p, a, b), [x, k], training, "cpu",
                        dtype="float32") for label, plan in plans.items()}
            runs["keras"] = module.compile_for_timing(
                lambda a, b, s=strides, p=padding: keras.ops.conv(a, b, strides=s, padding=p), [x, k],
                training, "cpu", dtype="float32")
            for run in runs.values():
                run()
                run()
            times, _ = budgeted_times(runs, budget)
            print(json.dumps({
                "backend": backend, "shape": name, "training": training, "auto_plan": auto.label,
                "direct_plan": plain.label, **{f"{twin}_plan": plans[twin].label if twin in plans else None
                                               for twin in TWINS},
                "measuring_s": measuring,
                "ms": {label: 1e3 * statistics.median(found) for label, found in times.items()}}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of rounds per shape and mode")
    parser.add_argument("--json", help="also write the records as JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        worker(options.worker, options.threads, options.budget)
        return
    records = []
    for backend in options.backends.split(","):
        found, _ = run_worker_process(__file__, backend, ["--threads", str(options.threads), "--budget",
                                                          str(options.budget)], 3600)
        records += found
    print(f"{machine()}, {options.threads} thread(s)\n")
    print("| backend | shape | mode | keras.ops.conv ms | direct ms | direct on even channels ms | direct "
          "with a padded row ms | auto ms (plan; measuring s) | auto / keras |")
    print("|---|---|---|---:|---:|---:|---:|---|---:|")
    for r in records:
        ms = r["ms"]
        even, row = (f"{ms[twin]:.2f}" if twin in ms else "-" for twin in TWINS)
        print(f"| {r['backend']} | {r['shape']} | {'training' if r['training'] else 'forward'} | "
              f"{ms['keras']:.2f} | {ms['direct']:.2f} | {even} | {row} | {ms['auto']:.2f} "
              f"({r['auto_plan']}; {r['measuring_s']:.1f}) | {ms['auto'] / ms['keras']:.2f} |")
    if options.json:
        with open(options.json, "w") as handle:
            json.dump({"machine": machine(), "threads": options.threads, "records": records}, handle)


if __name__ == "__main__":
    main()
