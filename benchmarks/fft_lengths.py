"""FFT convolutions at the smallest FFT lengths against lengths that avoid odd ones on the real
transform's axis (`Strategy.fft_odd_length_weight`, `tuning.fft_lengths`), side by side, in one run.

    flock /tmp/structconv-bench.lock .venv/bin/python benchmarks/fft_lengths.py [--backends torch,jax]
        [--threads 2] [--random 24] [--seed 0] [--weight 0.73] [--json PATH]

For each shape (`SHAPES`, then `--random` ones drawn as `benchmarks/fft.py` draws them: ranks 1-4, 1-16
channels, batch 1-4, a third training steps), the FFT plan the model picks (`planner.allowed(..., "fft")`)
with the profile in force, once with weight 0 (the smallest product of 2, 3, 5 and 7 on every axis) and
once with the odd-length weight (`--weight`, else the profile's, else torch's shipped one), each compiled as a
model runs it (`compile_for_timing`: jit, tf.function, eager; forward + backward for a training step) and
timed in interleaved rounds. Shapes whose plans are the same at both settings print no row; the summary
counts the rest. The table gives both times and weighed / smallest (below 1: the weighed lengths faster).
Times are medians of the rounds (`--budget` seconds of rounds per shape, at least 5).
"""

import argparse
import dataclasses
import json
import statistics

from environment import budgeted_times, machine, run_worker_process  # noqa: E402  (this folder is on sys.path)

BACKENDS = ("torch", "jax", "tensorflow")
# (rank, size, kernel size, batch, channels, filters, training), padding "same": whole lengths of odd or
# 5- and 7-heavy smallest lengths (45, 125, 315, 1029, 2187) and blocks.
SHAPES = [(3, 40, 7, 1, 4, 4, False), (2, 120, 9, 2, 8, 8, False), (2, 300, 21, 1, 1, 1, False),
          (1, 1000, 31, 4, 4, 4, False), (1, 2150, 39, 2, 2, 2, True), (3, 56, 5, 1, 2, 2, False),
          (2, 230, 13, 2, 4, 4, True), (4, 18, 5, 1, 2, 2, False)]
TORCH_WEIGHT = 0.73


def worker(backend, threads, shapes, weight, budget):
    from structconv.tuning.threads import limit_threads

    limit_threads(threads)
    from structconv import config
    from structconv._backend import get_backend
    from structconv.ops import candidate_plans, planner
    from structconv.ops.execute import execute
    from structconv.tuning import autotune
    from structconv.tuning.square_problem import square_problem

    config.set_autotune("off")  # the model's FFT plan at each setting, nothing measured
    in_force = candidate_plans.profile_for(backend, "cpu")
    weight = weight or in_force.strategy.fft_odd_length_weight or TORCH_WEIGHT
    settings = {name: dataclasses.replace(in_force, strategy=dataclasses.replace(
        in_force.strategy, fft_odd_length_weight=w)) for name, w in (("smallest", 0.0), ("weighed", weight))}
    backend_module = get_backend()
    for rank, size, k, batch, channels, filters, training in shapes:
        problem = square_problem(backend, "cpu", rank, size, k, batch, channels, filters, training=training)
        plans = {}
        for name, profile in settings.items():
            candidates = candidate_plans.candidates(problem, profile)
            plans[name] = planner.allowed(problem, candidates, "fft", profile, config.fft_memory_budget())[0]
        if plans["smallest"].fft == plans["weighed"].fft:
            continue
        arrays = autotune.problem_arrays(problem)
        runs = {name: backend_module.compile_for_timing(
                    lambda x, w, plan=plan, p=problem: execute(plan, p, x, w), arrays, training, "cpu",
                    dtype="float32")
                for name, plan in plans.items()}
        for run in runs.values():
            run()
            run()
        times, rounds = budgeted_times(runs, budget)
        print(json.dumps({
            "backend": backend, "rank": rank, "size": size, "k": k, "batch": batch, "channels": channels,
            "filters": filters, "training": training, "weight": weight, "rounds": rounds,
            "plans": {name: f"{plan.label} {plan.fft.lengths}" for name, plan in plans.items()},
            "ms": {name: 1e3 * statistics.median(values) for name, values in times.items()}}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--random", type=int, default=0, help="also this many random shapes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weight", type=float, default=0.0, help="odd-length weight (0: the profile's)")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of rounds per shape")
    parser.add_argument("--json", help="also write the records as JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--shapes", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        worker(options.worker, options.threads, json.loads(options.shapes), options.weight, options.budget)
        return
    from fft import random_points

    shapes = SHAPES + random_points(options.random, options.seed) if options.random else SHAPES
    records = []
    for backend in options.backends.split(","):
        found, _ = run_worker_process(__file__, backend, ["--threads", str(options.threads), "--shapes",
                                                          json.dumps(shapes), "--budget", str(options.budget),
                                                          "--weight", str(options.weight)], 3600)
        records += found
    print(f"{machine()}, {options.threads} thread(s); {len(shapes)} shapes per backend\n")
    print("| backend | shape | mode | smallest lengths | ms | weighed lengths | ms | weighed / smallest |")
    print("|---|---|---|---|---:|---|---:|---:|")
    for r in records:
        ms, plans = r["ms"], r["plans"]
        print(f"| {r['backend']} | {r['rank']}-D {r['size']}^{r['rank']} k={r['k']} B={r['batch']} "
              f"{r['channels']}->{r['filters']} | {'training' if r['training'] else 'forward'} | "
              f"{plans['smallest']} | {ms['smallest']:.2f} | {plans['weighed']} | {ms['weighed']:.2f} | "
              f"{ms['weighed'] / ms['smallest']:.2f} |")
    for backend in options.backends.split(","):
        ratios = sorted(r["ms"]["weighed"] / r["ms"]["smallest"] for r in records if r["backend"] == backend)
        if ratios:
            print(f"\n{backend}: {len(ratios)} of {len(shapes)} shapes at other lengths; weighed / smallest "
                  f"median {statistics.median(ratios):.2f}, best {ratios[0]:.2f}, worst {ratios[-1]:.2f}, "
                  f"faster at {sum(x < 1 for x in ratios)}")
    if options.json:
        with open(options.json, "w") as handle:
            json.dump({"machine": machine(), "threads": options.threads, "records": records}, handle)


if __name__ == "__main__":
    main()
