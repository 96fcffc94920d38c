"""Plan files: measured winners round-trip, survive corruption (one warning, then the model), concurrent
writers lose nothing, and a second process measures nothing."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import pytest

from structconv.ops.problem import ConvProblem
from structconv.tuning import plan_file, storage

BACKEND = keras.backend.backend()


def problem(size=64):
    return ConvProblem(backend=BACKEND, device="cpu", rank=1, batch=2, spatial=(size,), channels=2, filters=2,
                       kernel_size=(11,), groups=1, strides=(1,), dilation_rate=(1,), padding=((5, 5),),
                       padding_mode="zeros", dtype="float32", data_format="channels_last")


def test_round_trip_across_a_fresh_read(fresh_cache):
    times = {"direct:native": 10.0, "fft:whole:dft:loop": 5.0}
    plan_file.record(problem(), "m1", "fft:whole:dft:loop", times)
    plan_file.forget_loaded()
    entry = plan_file.lookup(problem(), "m1")
    assert entry["label"] == "fft:whole:dft:loop" and entry["times_us"]["direct:native"] == 10.0
    assert plan_file.lookup(problem(65), "m1") is None
    assert plan_file.lookup(problem(), "another machine") is None


def test_a_winner_among_direct_plans_is_not_the_winner_of_auto(fresh_cache):
    # algorithm="direct" measures only direct plans: its winner must not stand for "auto", which also has
    # the FFT plans to time.
    plan_file.record(problem(), "m1", "direct:channels_first", {"direct:channels_first": 1.0}, "direct")
    plan_file.forget_loaded()
    assert plan_file.lookup(problem(), "m1", "direct")["label"] == "direct:channels_first"
    assert plan_file.lookup(problem(), "m1") is None and plan_file.lookup(problem(), "m1", "fft") is None


def test_the_times_of_every_algorithm_are_remembered_together_malformed_ones_left_out(fresh_cache):
    plan_file.record(problem(), "m1", "fft:whole:dft:loop", {"fft:whole:dft:loop": 5.0, "direct:native": 9.0})
    plan_file.record(problem(), "m1", "direct:inputs", {"direct:inputs": 7.0, "direct:native": 8.0}, "direct")
    with open(plan_file.path_for("m1")) as saved:
        data = json.load(saved)
    data["entries"][plan_file.key(problem(), "fft")] = {
        "label": "fft:whole:fft:loop", "rules": plan_file.RULES,
        "times_us": {"fft:whole:fft:loop": "fast", "fft:2:fft:loop": -1.0, "fft:4:fft:loop": True,
                     "fft:8:fft:loop": 6.0}}
    with open(plan_file.path_for("m1"), "w") as out:
        json.dump(data, out)
    plan_file.forget_loaded()
    known = plan_file.remembered_times(problem(), "m1")
    assert (known["fft:whole:dft:loop"], known["direct:inputs"], known["fft:8:fft:loop"]) == (5.0, 7.0, 6.0)
    assert known["direct:native"] in (8.0, 9.0)  # timed under two algorithms: either run's time
    assert not {"fft:whole:fft:loop", "fft:2:fft:loop", "fft:4:fft:loop"} & set(known)
    assert plan_file.remembered_times(problem(65), "m1") == {}


def test_a_corrupt_plan_file_warns_once_and_is_rewritten(fresh_cache):
    os.makedirs(fresh_cache, exist_ok=True)
    with open(plan_file.path_for("m1"), "w") as out:
        out.write("{not json")
    with pytest.warns(RuntimeWarning, match="falling back"):
        assert plan_file.lookup(problem(), "m1") is None
    plan_file.record(problem(), "m1", "direct:native", {"direct:native": 1.0})
    plan_file.forget_loaded()
    assert plan_file.lookup(problem(), "m1")["label"] == "direct:native"


def test_plans_of_earlier_planner_rules_are_stale(fresh_cache):
    os.makedirs(fresh_cache, exist_ok=True)
    key = problem().key()  # keyed by the problem alone before rules 3
    with open(plan_file.path_for("m1"), "w") as out:
        json.dump({"entries": {key: {"label": "direct:native", "times_us": {}},  # no rules: session 7
                               plan_file.key(problem(65)): {"label": "direct:native",
                                                            "rules": plan_file.RULES - 1}}},
                  out)
    with pytest.warns(RuntimeWarning, match="earlier version of the planner"):
        assert plan_file.lookup(problem(), "m1") is None
    assert plan_file.lookup(problem(65), "m1") is None  # one warning per file
    plan_file.record(problem(), "m1", "fft:whole:dft:loop", {"fft:whole:dft:loop": 1.0})
    plan_file.forget_loaded()
    assert plan_file.lookup(problem(), "m1")["label"] == "fft:whole:dft:loop"


WRITER = textwrap.dedent("""
    import sys
    from structconv.tuning import plan_file, storage
    worker = sys.argv[1]
    for i in range(15):
        storage.merge_json(plan_file.path_for("shared"), {f"{worker}-{i}": {"label": "direct:native"}})
""")


def test_concurrent_writers_lose_nothing_and_never_corrupt(fresh_cache):
    environment = {**os.environ, storage.CACHE_ENVIRONMENT_VARIABLE: str(fresh_cache)}
    workers = [subprocess.Popen([sys.executable, "-c", WRITER, str(w)], env=environment) for w in range(4)]
    assert [w.wait(120) for w in workers] == [0] * 4
    with open(plan_file.path_for("shared")) as saved:
        entries = json.load(saved)["entries"]
    assert set(entries) == {f"{w}-{i}" for w in range(4) for i in range(15)}
    assert not [name for name in os.listdir(fresh_cache) if name.startswith(".tmp-")]


SCRIPT = textwrap.dedent("""
    import numpy as np
    from structconv import config, ops
    from structconv.tuning import autotune
    config.set_autotune("always")
    x = np.random.default_rng(0).standard_normal((2, 64, 2)).astype("float32")
    k = np.random.default_rng(1).standard_normal((11, 2, 2)).astype("float32")
    ops.conv(x, k, padding="same")
    print("MEASURED", autotune.statistics()["problems"])
""")


@pytest.mark.long
def test_a_second_process_measures_nothing(fresh_cache):
    environment = {**os.environ, storage.CACHE_ENVIRONMENT_VARIABLE: str(fresh_cache)}
    counts = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", SCRIPT], env=environment, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        counts.append(int(done.stdout.split("MEASURED")[1].split()[0]))
    assert counts == [1, 0]
