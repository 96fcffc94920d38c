"""Grouped and depthwise convolutions: Keras's op against structconv's three ways and its "auto", per backend.

    flock /tmp/structconv-bench.lock .venv/bin/python benchmarks/grouped_conv.py [--threads N]
        [--backends NAMES] [--budget S] [--json results.json]

A Keras `Conv2D(groups=G)` (and a `DepthwiseConv2D`, the same with one channel per group) runs
`keras.ops.conv`, the backend's grouped convolution. structconv can run the same convolution three ways
(`ops.grouping`): the backend's grouped convolution ("grouped"), one ungrouped convolution with a
block-diagonal kernel ("dense"), and one convolution per group ("split"); each column is the plan of that
way the cost model ranks first for the problem (a decomposition above the backend's ranks), and "auto" is
what `algorithm="auto"` plans with measured planning on (plan files bypassed, so each run measures; its cost
in the last column). Every function is compiled as a model runs it (`compile_for_timing`: jit /
tf.function / eager; forward + backward for training steps) and all of one point are timed in interleaved
rounds; the tables give each one's 25th-percentile call. Shapes: ranks 1-3, batch 2, 8 to 256 channels,
depthwise and 2 to 32 groups, kernels of 3 and 7 taps an axis, padding "same", float32, forward and
training. One subprocess per Keras backend.
"""

import argparse
import json
import os
import sys
import time

from environment import budgeted_times, machine, measure_afresh, run_worker_process, versions  # noqa: E402  (this folder is on sys.path)

from structconv.tuning.threads import limit_threads  # noqa: E402

BACKENDS = ("torch", "jax", "tensorflow")
PACKAGES = ("keras", "jax", "torch", "tensorflow-cpu", "numpy")
# (rank, size, kernel taps per axis, channels, groups): depthwise (groups == channels) and groups of
# 2 to 16 channels.
POINTS = [
    (1, 4096, 9, 8, 8), (1, 4096, 9, 64, 64), (1, 4096, 9, 64, 4),
    (2, 64, 3, 8, 8), (2, 64, 3, 32, 8), (2, 64, 3, 64, 64), (2, 32, 3, 128, 128), (2, 32, 3, 256, 32),
    (2, 32, 7, 32, 32), (2, 32, 7, 128, 8),
    (3, 16, 3, 8, 8), (3, 16, 3, 32, 8), (3, 12, 3, 64, 64),
]
BATCH = 2
WAYS = ("grouped", "dense", "split")


def worker(backend, budget):
    import dataclasses

    import keras

    from structconv import config
    from structconv._backend import get_backend
    from structconv.ops import candidate_plans, planner
    from structconv.ops.execute import execute
    from structconv.tuning import autotune
    from structconv.tuning.square_problem import square_problem

    measure_afresh()
    config.set_autotune("uncertain")
    where, installed = machine(), versions(PACKAGES)
    for rank, size, k, channels, groups in POINTS:
        for training in (False, True):
            problem = dataclasses.replace(
                square_problem(backend, "cpu", rank, size, k, BATCH, channels, channels, training=training),
                groups=groups)
            direct = [p for p in candidate_plans.candidates(problem) if p.algorithm == "direct"]
            chosen = {}
            for way in WAYS:
                found = [p for p in direct if (p.grouping or "grouped") == way]
                if found:
                    chosen[way] = min(found, key=lambda p: p.modelled_us)
            planner.clear_plans()
            started = time.perf_counter()
            chosen["auto"] = planner.plan_conv(problem, "auto")
            measuring = time.perf_counter() - started
            arrays = autotune.problem_arrays(problem)
            runs = {"keras.ops.conv": get_backend().compile_for_timing(
                lambda x, w: keras.ops.conv(x, w, padding="same"), arrays, training, "cpu")}
            for name, plan in chosen.items():
                runs[name] = get_backend().compile_for_timing(
                    lambda x, w, plan=plan, problem=problem: execute(plan, problem, x, w), arrays, training,
                    "cpu")
            for run in runs.values():
                run()
                run()
            samples, rounds = budgeted_times(runs, budget)
            print(json.dumps({
                "backend": backend, "rank": rank, "size": size, "k": k, "channels": channels,
                "groups": groups, "training": training, "rounds": rounds,
                "plans": {name: plan.label for name, plan in chosen.items()},
                "q25": {name: autotune.low_quantile(values) for name, values in samples.items()},
                "measuring_seconds": measuring, "machine": where, "versions": installed}), flush=True)


def table(records):
    lines = ["| point | backend | keras.ops.conv ms | grouped ms | dense ms | split ms | auto | auto ms | "
             "auto / keras | auto / fastest way | measuring s |",
             "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    summary = {}
    for r in sorted(records, key=lambda r: (r["rank"], r["size"], r["k"], r["channels"], r["groups"],
                                            r["training"], r["backend"])):
        q25 = r["q25"]
        kind = "depthwise" if r["groups"] == r["channels"] else f"{r['groups']} groups"
        step = "training" if r["training"] else "forward"
        cells = [f"{q25[way] * 1e3:.2f}" if way in q25 else "-" for way in WAYS]
        fastest = min(q25[way] for way in WAYS if way in q25)
        versus_keras, versus_best = q25["auto"] / q25["keras.ops.conv"], q25["auto"] / fastest
        summary.setdefault(r["backend"], []).append((versus_keras, versus_best))
        lines.append(f"| {r['rank']}-D {r['size']}^{r['rank']}, k={r['k']}, {r['channels']} channels, "
                     f"{kind}, {step} | {r['backend']} | {q25['keras.ops.conv'] * 1e3:.2f} | "
                     + " | ".join(cells)
                     + f" | {r['plans']['auto']} | {q25['auto'] * 1e3:.2f} | {versus_keras:.2f} | "
                     f"{versus_best:.2f} | {r['measuring_seconds']:.1f} |")
    verdicts = []
    for backend, pairs in summary.items():
        keras_ratios, best_ratios = [p[0] for p in pairs], [p[1] for p in pairs]
        verdicts.append(f"{backend}: auto / keras.ops.conv "
                        f"{min(keras_ratios):.2f}-{max(keras_ratios):.2f}x, within 1.15x of the fastest "
                        "way at "
                        f"{sum(x <= 1.15 for x in best_ratios)}/"
                        f"{len(best_ratios)} (worst {max(best_ratios):.2f}x)")
    return "\n".join(lines), verdicts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=0, help="threads per framework (0: all cores)")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of timed rounds per point")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="subset of " + ",".join(BACKENDS))
    parser.add_argument("--json", metavar="PATH", help="also write the records and the table as JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        limit_threads(options.threads)
        worker(options.worker, options.budget)
        return
    started = time.perf_counter()
    records = []
    for backend in [b for b in options.backends.split(",") if b]:
        found, ok = run_worker_process(__file__, backend, ["--threads", str(options.threads), "--budget",
                                                           str(options.budget)], 3600)
        if not ok:
            raise SystemExit(f"{backend} worker failed")
        records += found
    rows, verdicts = table(records)
    installed = records[0]["versions"] if records else versions(PACKAGES)
    markdown = "\n".join([
        "## Grouped and depthwise convolutions: keras.ops.conv and structconv's ways\n",
        f"Machine: {machine()}; {options.threads or os.cpu_count()} thread(s) per framework.\n",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in installed.items()) + "\n",
        rows, "\n" + "; ".join(verdicts) + ".",
        f"\nTotal run time: {time.perf_counter() - started:.0f} s. Command: `{' '.join(sys.argv)}`.",
    ])
    print(markdown)
    if options.json:
        with open(options.json, "w") as out:
            json.dump({"records": records, "verdicts": verdicts, "markdown": markdown}, out, indent=2)


if __name__ == "__main__":
    main()
