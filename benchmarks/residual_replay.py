"""Would the calibrated model pick better with its errors on the calibration grid carried to nearby shapes?

    .venv/bin/python benchmarks/residual_replay.py DIR   # DIR: what `planner_replay.py collect` wrote

A model of another form, judged on collected times before it is built (session 54): the cost model fitted on
the grid as `structconv calibrate` fits it, each of its modelled times then multiplied by a correction
learned from the grid, its log error (measured over modelled time) at grid shapes near the problem, by plans
of the same way (`contenders.family`) with the gradient or without: a Gaussian kernel average over the
shapes' features (rank, log size per axis, log taps, log channels, log filters, log batch), shrunk towards
no correction by a prior weight. Where a calibration's fit prices a kind of problem wrong the same way on
the grid, such a correction would carry the grid's error to held-out shapes like it.

For each backend and thread count in DIR it prints the picks within 1.15x of the fastest candidate timed,
on the grid (each shape corrected from the others only: leave one out) and on the held-out shapes, for the
model alone and for each kernel width and prior weight tried; the width and weight calibration would
choose are those that pick best on the grid left one out. No timing: the collected times decide.
"""

import argparse
import itertools
import math
import os
import subprocess
import sys

import planner_replay  # noqa: E402  (this folder is on sys.path)

TARGET = planner_replay.TARGET
WIDTHS = (0.5, 1.0, 1.5, 2.0, 3.0)
PRIOR_WEIGHTS = (0.1, 0.5, 1.0, 3.0)
# A rank apart weighs as this many doublings of a size.
RANK_SCALE = 3.0


def features(problem):
    return (RANK_SCALE * problem.rank, math.log2(math.prod(problem.spatial)) / problem.rank,
            math.log2(max(math.prod(problem.kernel_size), 1)), math.log2(problem.channels),
            math.log2(problem.filters), math.log2(problem.batch))


def _with_plans(records, profile):
    """Each record with the plans "auto" may pick (`allowed`), priced with `profile`, and its features."""
    from structconv.ops import candidate_plans, planner

    for record in records:
        problem = record["problem"]
        plans = candidate_plans.candidates(problem, profile)
        record["allowed"] = planner.allowed(problem, plans, "auto", profile, math.inf)
        record["features"] = features(problem)
    return records


def residuals(grid):
    """`(grid index, way, features, log(measured / modelled))` of every plan timed on the grid."""
    from structconv.ops.contenders import family

    found = []
    for index, record in enumerate(grid):
        for plan in record["allowed"]:
            measured = record["times"].get(plan.label)
            if measured is not None and plan.modelled_us > 0:
                found.append((index, (family(plan), record["training"]), record["features"],
                              math.log(measured / plan.modelled_us)))
    return found


def corrected_pick(record, errors, width, prior, leave_out=None):
    """The label the model picks for `record` with each plan's time corrected by the grid's `errors` of the
    same way near it (kernel `width`, `prior` weight on no correction); `width` None: the model alone."""
    from structconv.ops.contenders import family

    if width is None:
        return record["allowed"][0].label

    def corrected(plan):
        way = (family(plan), record["training"])
        total = weights = 0.0
        for index, other_way, place, error in errors:
            if other_way == way and index != leave_out:
                weight = math.exp(-sum((a - b) ** 2 for a, b in zip(place, record["features"]))
                                  / (2 * width * width))
                total, weights = total + weight * error, weights + weight
        return plan.modelled_us * math.exp(total / (weights + prior))

    return min(record["allowed"], key=corrected).label


def score(records, errors, width, prior, leave_one_out=False):
    """Picks within `TARGET` of `records`, the worst ratio and the sum of log ratios."""
    from structconv.tuning import fit

    ratios = [fit.pick_ratio(r, corrected_pick(r, errors, width, prior, i if leave_one_out else None))
              for i, r in enumerate(records)]
    return sum(x <= TARGET for x in ratios), max(ratios), sum(math.log(x) for x in ratios)


def worker(backend, directory):
    for threads, grid_data, held in planner_replay.collections(backend, directory):
        profile = planner_replay.fitted_on(grid_data, backend, threads)
        grid = _with_plans([planner_replay.from_json(r) for r in grid_data["records"]], profile)
        held = _with_plans(held, profile)
        errors = residuals(grid)
        alone_grid, alone_held = score(grid, errors, None, 0), score(held, errors, None, 0)
        print(f"{backend}, {threads} thread(s), {len(grid)} grid and {len(held)} held-out shapes, picks "
              f"within {TARGET}x (worst):", flush=True)
        print(f"  model alone, fitted on the grid: grid {_picks(alone_grid, grid)}, held out "
              f"{_picks(alone_held, held)}", flush=True)
        tried = []
        for width, prior in itertools.product(WIDTHS, PRIOR_WEIGHTS):
            on_grid = score(grid, errors, width, prior, leave_one_out=True)
            on_held = score(held, errors, width, prior)
            tried.append(((on_grid[0], -on_grid[2]), width, prior, on_held))
            print(f"  corrected, width {width}, prior weight {prior}: grid left one out "
                  f"{_picks(on_grid, grid)}, held out {_picks(on_held, held)}", flush=True)
        _, width, prior, on_held = max(tried, key=lambda t: t[0])
        print(f"  chosen on the grid (width {width}, prior weight {prior}): held out {_picks(on_held, held)} "
              f"against the model alone's {_picks(alone_held, held)}", flush=True)


def _picks(scored, records):
    return f"{scored[0]}/{len(records)} ({scored[1]:.2f}x)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory", help="what `planner_replay.py collect` wrote")
    parser.add_argument("--backends", default=",".join(planner_replay.BACKENDS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        worker(options.worker, options.directory)
        return
    for backend in options.backends.split(","):
        subprocess.run([sys.executable, __file__, options.directory, "--worker", backend], check=True,
                       env=dict(os.environ, KERAS_BACKEND=backend))


if __name__ == "__main__":
    main()
