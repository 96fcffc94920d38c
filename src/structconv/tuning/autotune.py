"""Measured planning: times candidate plans once, on data of the problem's shape, in the form they run.

Runs in a worker thread: a thread has its own trace state in JAX and TensorFlow, so a layer that is being
traced inside `fit` (`jax.jit`, `tf.function`) still gets its candidates compiled and timed for real,
outside the trace. Each candidate is compiled as a model runs it (`compile_for_timing` of the backend:
`jax.jit`, `tf.function`, eager torch; forward + backward when the gradient will be taken), run once to
warm up, then timed until `REPEATS` runs or `SECONDS_PER_CANDIDATE`; its fastest run counts. A candidate
already `GIVE_UP` times slower than the best so far after one run is not timed further. Counters in
`statistics()` say what measuring cost.
"""

import concurrent.futures
import time

import numpy as np

from structconv._backend import get_backend

REPEATS = 5
SECONDS_PER_CANDIDATE = 0.5
GIVE_UP = 3.0
_statistics = {"problems": 0, "candidates": 0, "seconds": 0.0}


def statistics():
    """`{"problems", "candidates", "seconds"}` measured so far in this process."""
    return dict(_statistics)


def reset_statistics():
    _statistics.update(problems=0, candidates=0, seconds=0.0)


def problem_arrays(problem):
    """Random NumPy input and kernel of the problem's shapes (a bfloat16 problem is timed in float32)."""
    rng = np.random.default_rng(0)
    dtype = problem.dtype if problem.dtype in ("float16", "float32", "float64") else "float32"
    spatial = list(problem.spatial)
    if problem.data_format == "channels_last":
        shape = (problem.planned_batch, *spatial, problem.channels)
    else:
        shape = (problem.planned_batch, problem.channels, *spatial)
    if problem.transposed:
        kernel = (*problem.kernel_size, problem.filters, problem.channels)
    else:
        kernel = (*problem.kernel_size, problem.channels // problem.groups, problem.filters)
    return [rng.standard_normal(shape).astype(dtype), rng.standard_normal(kernel).astype(dtype)]


def measure(problem, plans):
    """`{plan.label: microseconds or None}`: each plan of `problem` timed (None where it failed to run)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="structconv-tune") as pool:
        return pool.submit(_measure, problem, plans).result()


def _measure(problem, plans):
    from structconv.ops.execute import execute

    started = time.perf_counter()
    backend = get_backend()
    arrays = problem_arrays(problem)
    times, best = {}, float("inf")
    for plan in plans:
        try:
            run = backend.compile_for_timing(lambda x, k, plan=plan: execute(plan, problem, x, k), arrays,
                                             problem.training, problem.device)
            run()  # compiles and warms up
            samples, spent = [], 0.0
            while len(samples) < REPEATS and spent < SECONDS_PER_CANDIDATE:
                start = time.perf_counter()
                run()
                samples.append(time.perf_counter() - start)
                spent += samples[-1]
                if samples[-1] > GIVE_UP * best:
                    break
            times[plan.label] = min(samples) * 1e6
            best = min(best, times[plan.label])
        except Exception:  # noqa: BLE001 (a candidate that cannot run here is not a candidate)
            times[plan.label] = None
        _statistics["candidates"] += 1
    _statistics["problems"] += 1
    _statistics["seconds"] += time.perf_counter() - started
    return times
