"""Measured plans remembered across processes, as FFTW keeps wisdom: one JSON file per machine
fingerprint in the cache directory, `{"entries": {problem and algorithm key: {"label", "times_us", "date",
"rules"}}}`.
An entry measured under other planner rules (`RULES`) is stale: it warns once and is measured again.

Reads happen once per process and file; each measured plan is merged in under a lock and written
atomically (`tuning.storage`), so concurrent processes never corrupt the file or lose each other's plans.
"""

import os
import time

from structconv.tuning import storage

# Bumped whenever the planner's candidates or what measuring times change: a winner measured under other
# rules may not be among today's candidates, or not the fastest of them (session 8: an entry from session 7
# kept a 4-D torch convolution on a 45 ms decomposition where FFT now runs it in 12-28 ms). 3: torch's 2-D
# training steps gained a candidate (a channels-first copy), and entries are kept per `algorithm` (under
# rules 2 the winner among direct plans, measured for algorithm="direct", was read back for "auto"). 4: once
# an FFT plan is timed, each FFT family within the band of the cheapest FFT plan is timed too (a direct
# plan priced far too cheap had left the faster kernel transform untimed). 5: on JAX's CPU rank 3 gained the
# decomposition onto XLA's 2-D convolution beside its own 3-D one. 6: so did TensorFlow's CPU without oneDNN.
# 7: from rank 4 there, the decomposition onto 2-D beside the one onto 3-D (`Plan.onto`); kernels under
# `fft_min_taps` taps time FFT plans within the band; a direct plan within `DIRECT_TIE` of FFT is kept.
# 8: torch's 3-D convolution of a batch of one gained a candidate (two halves stacked along the batch).
# 9: float16 and bfloat16 problems gained direct plans widened to float32 and are timed in their own dtype
# (they had been timed in float32, where torch's CPU convolution runs up to 1066x faster than in bfloat16).
# 10: grouped convolutions gained direct plans built from ungrouped ones (`ops.grouping`).
# 11: TensorFlow's slices (`slice_window`) made its decompositions' training steps and overlap-save plans
# 1.6-10x faster, so winners measured before may have lost since (a 5-D 10^5 k=3 4 -> 4 step: FFT 30.8 ms
# against direct 45.5 before, direct 22.7 after); and the block counts next to the fastest FFT plan are
# timed where it is close behind a direct one (`contenders.FFT_NEIGHBOURS_WITHIN`).
# 12: torch's decompositions gather their windows' gradient in one buffer (`slice_windows`): training steps
# stacked along the filters ran up to 1.39x faster, so an FFT winner measured before may have lost since.
# 13: the block counts next to each kernel transform's fastest overlap-save plan are timed where it is close
# to the fastest (`contenders.TRANSFORM_NEIGHBOURS_WITHIN`): a faster block count by the other transform had
# gone untimed.
# 14: a half-precision problem's own-dtype direct plans are timed past the float32 backward cliff where they
# would be in the band without it (`candidate_plans.candidates`): TensorFlow's bfloat16 steps had no cliff,
# and a winner measured before without them ran FFT at 2.3x.
# 15: a grouped convolution's factor and an even-channel twin's extra flops scale the doubted part of a
# direct plan's price (`Plan.uncertain_us`) as they do the rest, so such plans are timed where their trusted
# part is in the band (grouped 1-D training steps past the cliff, grouped half-precision steps).
# 16: on JAX's CPU a candidate's first call keeps it out of the rounds only over
# `autotune.FIRST_RUN_FAR_SECONDS`: a first call slowed by what a process sets up once had kept out the
# fastest plan, and a winner measured so may have lost.
# 17: the confirming rounds time up to three close contenders alone, not two (`autotune.CONFIRM_MOST`): the
# third, slowed in the rounds beside every candidate, can be the fastest.
# 18: JAX's unpadded 2-D CPU convolutions of more than 16 input channels have a twin with one output row
#     more on zero padding (`ops.padded_row`), a way the plans measured before never timed.
RULES = 18
_loaded = {}


def path_for(machine_id):
    return os.path.join(storage.cache_dir(), f"plans-{machine_id}.json")


def _entries(path):
    if path not in _loaded:
        data = storage.read_json(path)
        entries = data.get("entries") if data else None
        if entries is not None and not isinstance(entries, dict):
            storage.warn_once(path, "malformed plan file")
            entries = None
        _loaded[path] = dict(entries or {})
    return _loaded[path]


def key(problem, algorithm="auto"):
    """The entry key of `problem` under `algorithm`."""
    return f"{problem.key()};algorithm={algorithm}"


def lookup(problem, machine_id, algorithm="auto"):
    """The remembered entry for `problem` under `algorithm` ("auto", "direct", "fft") on this machine, or
    None."""
    path = path_for(machine_id)
    entries = _entries(path)
    # Before rules 3 entries were keyed by the problem alone: such an entry is stale like any other.
    entry = entries.get(key(problem, algorithm), entries.get(problem.key()))
    if not isinstance(entry, dict) or not isinstance(entry.get("label"), str):
        return None
    if entry.get("rules") != RULES:
        storage.warn_once(path, "plans measured by an earlier version of the planner, measured again")
        return None
    return entry


def remembered_times(problem, machine_id):
    """`{label: microseconds}` of every plan timed for `problem` on this machine, under any algorithm (the
    planner reuses them where they cover what it would time); entries' malformed times are left out."""
    known = {}
    for algorithm in ("auto", "direct", "fft"):
        entry = lookup(problem, machine_id, algorithm)
        times = entry.get("times_us") if entry else None
        if isinstance(times, dict):
            known.update((label, float(us)) for label, us in times.items()
                         if isinstance(us, (int, float)) and not isinstance(us, bool) and us > 0)
    return known


def record(problem, machine_id, label, times_us, algorithm="auto"):
    """Remembers the measured winner `label` of `problem` under `algorithm` (in memory, and in the file
    where writable)."""
    path = path_for(machine_id)
    entry = {"label": label, "times_us": times_us, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
             "rules": RULES}
    entry_key = key(problem, algorithm)
    _entries(path)[entry_key] = entry
    storage.merge_json(path, {entry_key: entry})


def forget_loaded():
    """Drops what was read (tests; after the cache directory changes)."""
    _loaded.clear()
