"""Measured planning: times candidate plans once, on data of the problem's shape, in the form they run.

Runs in a worker thread on JAX and TensorFlow (the backend's `timing_needs_own_thread`): a thread has its
own trace state there, so a layer that is being traced inside `fit` (`jax.jit`, `tf.function`) still gets
its candidates compiled and timed for real, outside the trace. Eager torch times in the calling thread.
Each candidate is compiled as a model runs it (`compile_for_timing` of the backend: `jax.jit`, `tf.function`,
with XLA where the call is traced for it, eager torch; forward + backward when the gradient will be taken),
run once to warm up (twice when cheap); then the candidates are timed in interleaved rounds (the order
rotating, so a burst of other load hits them alike) until `SECONDS_PER_CANDIDATE` per candidate are spent or
`MAX_ROUNDS` are run, so that millisecond candidates get dozens of samples (on a 2-core VM a 1.5 ms FFT
variant's fastest of 5 calls ranged 1.2-2.0 ms between three measurements, and picked a variant 1.1-1.4x
slower than another; issue 13). Each one's time is a low quantile of its samples (`QUANTILE`: the fastest of
up to 4 samples, the 25th percentile of more), which load only ever raises and one lucky sample does not
decide. A candidate whose fastest of at least `GIVE_UP_AFTER` samples is `GIVE_UP` times the best is not timed
further (one sample decided before, so that a single disturbed call could drop the fastest), nor one whose
single call is `FAR` times the best and over `FAR_SECONDS` (seconds past a cliff); where the warm-up call is a
run like the later ones (`first_call_is_a_run`: JAX on the CPU, compiled ahead), it counts as that call, so
such a candidate is not called in the rounds at all where that call is over `FIRST_RUN_FAR_SECONDS` (a
first call also pays what is set up once); elsewhere a warm-up `FIRST_CALL_FACTOR` times longer
than that, and over `FIRST_CALL_SECONDS`, does the same. Where the fastest ends with others within
`CONFIRM_WITHIN` of it, up to `CONFIRM_ROUNDS` more rounds time those (at most `CONFIRM_MOST`, the fastest
first) alone (within `SECONDS_PER_CANDIDATE` each), and where each got `CONFIRM_DECIDES` samples there, those
samples alone give them their times: on a shared 2-core machine a single lucky sample had picked a plan
1.35x slower than the other, and rounds beside a memory-hungry candidate slowed another's calls (a
TensorFlow 1-D 15894-sample k=15 16 -> 6 training step by oneDNN: 5.2-6.0 ms a call in rounds beside a
whole-signal FFT plan of 15 ms, 3.9-4.2 ms beside the 5 ms FFT plan it was close to; that FFT plan was
picked, 1.28x slower; docs/benchmarks.md, issue 13). Where the planner asks (`expand`), the plans the times
so far call for (`ops.contenders.follow_ups`: other FFT families where the times leave them a chance, the
overlap-save block counts next to the fastest) are then compiled and timed in rounds with the fastest, up to
`FOLLOW_UP_ROUNDS` times. Counters in `statistics()` say what measuring cost.
"""

import concurrent.futures
import math
import time

import numpy as np

from structconv._backend import get_backend

MAX_ROUNDS = 40
SECONDS_PER_CANDIDATE = 0.3
QUANTILE = 0.25
GIVE_UP = 3.0
GIVE_UP_AFTER = 3
# ... and one whose first timed call is `FAR` times the fastest call and over `FAR_SECONDS` after a single
# sample, its time not counted against the others' budget: a direct training step past a real backward
# cliff (timed where the cliff is uncertain, `ops.contenders.pick_contenders`) takes seconds a call.
FAR = 10.0
FAR_SECONDS = 0.05
# ... but before the rounds, where a candidate's one sample is its first call (`first_call_is_a_run`), only
# over this: a first call also pays what a process or an executable sets up once. On JAX's CPU (2 threads of
# an Intel Xeon, jaxlib 0.10.2) the first call of a process's first candidate took 31-66 ms where later ones
# settled at 0.5-0.8 ms, and other candidates' first calls 1.6-4.5x their later ones; at the 50 ms floor above
# such a first call kept the fastest plan of a 3-D training step out of the rounds, and "auto" ran a plan
# 2.72x slower (`benchmarks/auto_vs_forced.py --varied --small-kernels --seed 530`, session 53).
FIRST_RUN_FAR_SECONDS = 0.25
# Where the warm-up call is not a run (`first_call_is_a_run`: TensorFlow traces and optimises its graph,
# torch sets up its kernels), a first call took up to this many times a later one (TensorFlow: 0.25-25 s
# first calls of 4-D plans that then ran in 0.07-1.5 s). A candidate whose warm-up alone took
# `FIRST_CALL_FACTOR * FAR` times the fastest sample of the others is still `FAR` times slower than it:
# its warm-up counts as its one sample and it is not called in the rounds (a TensorFlow 1-D 88415-sample
# k=101 16 -> 16 direct training step past the backward cliff, 6.6 s a call, was called twice beside FFT
# plans of 22 ms: 13 of measuring's 17.6 s).
FIRST_CALL_FACTOR = 20.0
# ... and only where the warm-up took this long as well. A TensorFlow warm-up is mostly the trace (40-600 ms
# for FFT plans, the same for a 0.6 ms call and a 20 ms one), which says nothing of the call: FFT plans of
# 0.59 ms whose training steps traced in 150-200 ms were kept out as 200x slower than one of 0.78 ms, which
# was picked (a 1-D 16384-sample k=15 1 -> 1 step: 1.3x slower); calibration's grid recorded such
# traces as the times of 16 of its 68 TensorFlow shapes (2-vCPU Intel Xeon, session 41). Called once, a
# candidate under this costs less than its warm-up did, and `_far` then drops it if it is far slower.
FIRST_CALL_SECONDS = 1.0
CONFIRM_WITHIN = 1.2
CONFIRM_ROUNDS = 12
CONFIRM_DECIDES = 4
# ... at most this many: the third of close contenders can be the one the rounds with every candidate
# slowed (torch, a 2-D 234x95 k=8x28 4 -> 4 forward: the whole-image FFT plan measured 1.80 ms third behind
# two blocked plans of 1.63 and 1.67 ms, and "auto" ran the first, 1.29x slower than the whole image's 1.27
# ms in rounds of three; in new processes it took 1.47-1.54 ms in rounds of all nine candidates and 1.14-1.33
# in rounds of three in three of six, the other way round in one; `benchmarks/auto_vs_forced.py --varied
# --seed 534`, session 54).
CONFIRM_MOST = 3
# At most this many times the plans `expand` names are timed after the first rounds (an FFT family timed
# late can win and call for its neighbouring block counts).
FOLLOW_UP_ROUNDS = 3
_statistics = {"problems": 0, "candidates": 0, "seconds": 0.0}


def statistics():
    """`{"problems", "candidates", "seconds"}` measured so far in this process."""
    return dict(_statistics)


def reset_statistics():
    _statistics.update(problems=0, candidates=0, seconds=0.0)


def problem_arrays(problem):
    """Random NumPy input and kernel of the problem's shapes (float32 for a bfloat16 problem, which NumPy
    has not: `compile_for_timing` casts them to the problem's dtype)."""
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


def measure(problem, plans, expand=None):
    """`{plan.label: microseconds or None}`: each plan of `problem` timed (None where it failed to run).
    `expand(times)`, when given, names more plans to try after the rounds from the times so far
    (`{label: microseconds}`; the planner's `ops.contenders.follow_ups`); they are timed in rounds of their
    own with the fastest, until it names none not yet tried (at most `FOLLOW_UP_ROUNDS` times)."""
    if not get_backend().timing_needs_own_thread():
        return _measure(problem, plans, expand)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="structconv-tune") as pool:
        return pool.submit(_measure, problem, plans, expand).result()


def _measure(problem, plans, expand):
    started = time.perf_counter()
    arrays = problem_arrays(problem)
    samples, warm_ups = {}, {}
    runs = _compiled(problem, plans, arrays, samples, warm_ups)
    _rounds(runs, samples, warm_ups)
    for _ in range(FOLLOW_UP_ROUNDS if expand is not None and runs else 0):
        more = [p for p in expand(_micros(samples)) if p.label not in samples]
        if not more:
            break
        leader = min(runs, key=lambda label: low_quantile(samples[label]))
        extra = _compiled(problem, more, arrays, samples, warm_ups)
        if extra:
            _rounds({leader: runs[leader], **extra}, samples, warm_ups)
            runs.update(extra)
    _statistics["problems"] += 1
    _statistics["seconds"] += time.perf_counter() - started
    micros = _micros(samples)
    return {label: micros.get(label) for label in samples}


def _micros(samples):
    """`{label: microseconds}` of the candidates timed so far (`low_quantile` of their samples)."""
    return {label: low_quantile(found) * 1e6 for label, found in samples.items() if found}


def _compiled(problem, plans, arrays, samples, warm_ups):
    """`{label: run}` of `plans` compiled and warmed up (`samples[label]` set to [], or None where a plan
    failed to run; where the backend's first call is a run like the later ones, `first_call_is_a_run`, to
    that call's seconds, so that `_rounds` need not call a candidate it shows far slower again; else the
    first call's seconds go to `warm_ups[label]`)."""
    from structconv.ops.execute import execute

    backend = get_backend()
    first_is_a_run = backend.first_call_is_a_run(problem.device)
    runs = {}
    for plan in plans:
        try:
            run = backend.compile_for_timing(lambda x, k, plan=plan: execute(plan, problem, x, k), arrays,
                                             problem.training, problem.device, xla=problem.xla,
                                             dtype=problem.dtype)
            start = time.perf_counter()
            run()  # warms up (and compiles, where compiling waits for the first call)
            first = time.perf_counter() - start
            if first < SECONDS_PER_CANDIDATE:
                run()  # a second call: some backends finish setting up on it (torch's FFT plans)
            runs[plan.label], samples[plan.label] = run, [first] if first_is_a_run else []
            if not first_is_a_run:
                warm_ups[plan.label] = first
        except Exception:  # noqa: BLE001 (a candidate that cannot run here is not a candidate)
            samples[plan.label] = None
        _statistics["candidates"] += 1
    return runs


def _rounds(runs, samples, warm_ups=None):
    """Interleaved rounds of `runs` until the budget or `MAX_ROUNDS` (module docstring), then `_confirm`.
    A candidate whose samples before the rounds (a first call counted, `_compiled`) already show it `FAR`
    slower, and over `FIRST_RUN_FAR_SECONDS`, is not called again; nor one whose warm-up call (`warm_ups`,
    seconds) took `FIRST_CALL_FACTOR` times that (`_timed_round`; the rounds reach the candidates with the
    longest warm-ups last)."""
    warm_ups = warm_ups or {}
    far = _far(runs, samples, FIRST_RUN_FAR_SECONDS)
    runs = {label: run for label, run in sorted(runs.items(), key=lambda item: warm_ups.get(item[0], 0.0))
            if label not in far}
    before = {label: len(samples[label]) for label in runs}
    budget = SECONDS_PER_CANDIDATE * max(len(runs), 1)
    spent = 0.0
    for round_index in range(MAX_ROUNDS):
        spent += _timed_round(runs, list(runs), round_index, samples, warm_ups)
        best = min(min(samples[label]) for label in runs) if runs else 0.0
        far = _far(runs, samples)
        spent -= sum(sum(samples[label][before[label]:]) for label in far)
        runs = {label: run for label, run in runs.items() if label not in far and (
            len(samples[label]) < GIVE_UP_AFTER or min(samples[label]) <= GIVE_UP * best)}
        if spent > budget or len(runs) <= 1 and round_index >= 1:
            break
    _confirm(runs, samples)


def _far(runs, samples, floor=FAR_SECONDS):
    """The labels of `runs` whose fastest sample is `FAR` times the fastest of all and over `floor` seconds
    (labels without samples are neither)."""
    timed = [label for label in runs if samples[label]]
    if not timed:
        return []
    best = min(min(samples[label]) for label in timed)
    return [label for label in timed if min(samples[label]) > max(FAR * best, floor)]


def _timed_round(runs, labels, round_index, samples, warm_ups=None):
    """Runs each of `labels` once, the order rotated by `round_index`, appending each call's seconds to
    its `samples`; returns the seconds spent. A label not yet sampled whose warm-up (`warm_ups`) took
    `FIRST_CALL_FACTOR * FAR` times the fastest sample so far, and over `FIRST_CALL_SECONDS`, is not run:
    its warm-up is its sample (counted as spent, which `_rounds` takes back from a `FAR` candidate)."""
    shift = round_index % max(len(labels), 1)
    spent = 0.0
    for label in labels[shift:] + labels[:shift]:
        warm_up = (warm_ups or {}).get(label)
        if warm_up is not None and not samples[label]:
            best = min((min(found) for found in samples.values() if found), default=None)
            if best is not None and warm_up > max(FIRST_CALL_FACTOR * FAR * best, FIRST_CALL_SECONDS):
                samples[label].append(warm_up)
                spent += warm_up
                continue
        start = time.perf_counter()
        runs[label]()
        elapsed = time.perf_counter() - start
        samples[label].append(elapsed)
        spent += elapsed
    return spent


def interleaved_medians(runs, rounds, calls_per_round, seconds=math.inf):
    """`{key: seconds}` of each callable of `runs` (`{key: run}`): the median over up to `rounds`
    interleaved rounds (none started once `seconds` are spent) of each round's fastest of
    `calls_per_round` calls. The calibration probes' timing (`tuning.fft_lengths`, `tuning.odd_channels`)."""
    started = time.perf_counter()
    samples = {key: [] for key in runs}
    for _ in range(rounds):
        for key, run in runs.items():
            calls = []
            for _ in range(calls_per_round):
                start = time.perf_counter()
                run()
                calls.append(time.perf_counter() - start)
            samples[key].append(min(calls))
        if time.perf_counter() - started > seconds:
            break
    return {key: float(np.median(found)) for key, found in samples.items()}


def low_quantile(samples):
    """The `QUANTILE` of `samples` (the fastest of up to 4): what a call takes when load does not add."""
    ordered = sorted(samples)
    return ordered[int(QUANTILE * (len(ordered) - 1))] if ordered else math.inf


def _confirm(runs, samples):
    """More interleaved rounds of the fastest candidates when others are close to the fastest (at most
    `CONFIRM_MOST`); with `CONFIRM_DECIDES` samples each, those rounds' samples replace theirs, else they
    join them (module docstring)."""
    ranked = sorted(runs, key=lambda label: low_quantile(samples[label]))[:CONFIRM_MOST]
    contenders = [label for label in ranked
                  if low_quantile(samples[label]) <= CONFIRM_WITHIN * low_quantile(samples[ranked[0]])]
    if len(contenders) < 2:
        return
    alone = {label: [] for label in contenders}
    spent = 0.0
    for round_index in range(CONFIRM_ROUNDS):
        spent += _timed_round(runs, contenders, round_index, alone)
        if spent > len(contenders) * SECONDS_PER_CANDIDATE:
            break
    decides = min(len(found) for found in alone.values()) >= CONFIRM_DECIDES
    for label, found in alone.items():
        samples[label] = found if decides else samples[label] + found
