"""`tuning.autotune`: a candidate's time is a low quantile of its samples, not one lucky sample;
confirmation rounds time close contenders again, alone, and decide between them; clear winners are not
timed again."""

import time

import keras
import numpy as np

from structconv.tuning import autotune


def _counting_runs(names, sleeps=None):
    """`{name: run}` and `{name: calls}`; each run sleeps `sleeps[name]` seconds where given."""
    calls = dict.fromkeys(names, 0)

    def run_of(name):
        def run():
            calls[name] += 1
            if sleeps:
                time.sleep(sleeps[name])
        return run

    return {name: run_of(name) for name in names}, calls


def test_one_lucky_sample_does_not_decide():
    lucky = [1.0e-3] + [2.0e-3] * 20  # fast once, slow as a rule
    steady = [1.5e-3] * 21
    assert autotune.low_quantile(steady) < autotune.low_quantile(lucky)
    # The QUANTILE-th sample in sorted order; the fastest of up to 4 samples.
    assert autotune.low_quantile([float(t) for t in range(1, 42)]) == 1 + int(autotune.QUANTILE * 40)
    assert autotune.low_quantile([3.0, 1.0, 2.0, 4.0]) == 1.0


def test_one_disturbed_sample_does_not_drop_the_fastest_candidate():
    # "b" is the fastest, but its first timed call is disturbed (10x "a"); one sample used to drop it.
    calls = {"a": 0, "b": 0}

    def run_a():
        calls["a"] += 1
        time.sleep(4e-3)

    def run_b():
        calls["b"] += 1
        time.sleep(40e-3 if calls["b"] == 1 else 1e-3)

    samples = {"a": [], "b": []}
    autotune._rounds({"a": run_a, "b": run_b}, samples)
    assert len(samples["b"]) >= autotune.GIVE_UP_AFTER
    assert autotune.low_quantile(samples["b"]) < autotune.low_quantile(samples["a"])


def test_close_contenders_are_timed_again_alone():
    runs, calls = _counting_runs(["a", "b", "c"])
    samples = {"a": [1.0e-3], "b": [1.1e-3], "c": [5.0e-3]}
    autotune._confirm(runs, samples)
    assert calls["a"] == calls["b"] == autotune.CONFIRM_ROUNDS and calls["c"] == 0
    assert len(samples["a"]) == len(samples["b"]) == autotune.CONFIRM_ROUNDS
    assert samples["c"] == [5.0e-3]


def test_the_rounds_alone_decide_between_close_contenders():
    # In the rounds with every candidate "b" looked faster (another candidate's memory traffic slowed "a");
    # timed alone, "a" is: the rounds alone give both their times.
    runs, _ = _counting_runs(["a", "b"], sleeps={"a": 2e-3, "b": 4e-3})
    samples = {"a": [5.0e-3] * 10, "b": [4.5e-3] * 10}
    autotune._confirm(runs, samples)
    assert autotune.low_quantile(samples["a"]) < autotune.low_quantile(samples["b"])
    assert len(samples["a"]) == len(samples["b"]) == autotune.CONFIRM_ROUNDS


def test_the_third_of_close_contenders_is_timed_again_alone_too():
    # "c" looked third in the rounds with every candidate (slowed beside them, as torch's whole-image FFT
    # plan was); timed alone with the two ahead of it, it is the fastest. A fourth close one is not timed.
    runs, calls = _counting_runs(["a", "b", "c", "d"], sleeps={"a": 3e-3, "b": 3e-3, "c": 2e-3, "d": 1e-3})
    samples = {"a": [3.0e-3] * 10, "b": [3.1e-3] * 10, "c": [3.3e-3] * 10, "d": [3.4e-3] * 10}
    autotune._confirm(runs, samples)
    assert autotune.CONFIRM_MOST == 3 and calls["d"] == 0 and samples["d"] == [3.4e-3] * 10
    assert calls["a"] == calls["b"] == calls["c"] >= autotune.CONFIRM_DECIDES
    assert min(samples, key=lambda label: autotune.low_quantile(samples[label])) == "c"


def test_only_contenders_close_to_the_fastest_are_timed_again():
    runs, calls = _counting_runs(["a", "b", "c"])
    samples = {"a": [1.0e-3], "b": [1.1e-3], "c": [autotune.CONFIRM_WITHIN * 1.01e-3]}
    autotune._confirm(runs, samples)
    assert calls["a"] == calls["b"] == autotune.CONFIRM_ROUNDS and calls["c"] == 0


def test_too_few_rounds_alone_join_the_samples(monkeypatch):
    # Candidates too slow for `CONFIRM_DECIDES` rounds alone within the budget: those rounds' samples
    # join the others instead of replacing them.
    monkeypatch.setattr(autotune, "SECONDS_PER_CANDIDATE", 0.01)
    runs, calls = _counting_runs(["a", "b"], sleeps={"a": 15e-3, "b": 15e-3})
    samples = {"a": [15e-3] * 5, "b": [16e-3] * 5}
    autotune._confirm(runs, samples)
    assert 0 < calls["a"] < autotune.CONFIRM_DECIDES
    assert len(samples["a"]) == 5 + calls["a"] and len(samples["b"]) == 5 + calls["b"]


def test_a_clear_winner_is_not_timed_again():
    runs, calls = _counting_runs(["a", "b"])
    samples = {"a": [1.0e-3], "b": [autotune.CONFIRM_WITHIN * 1.01e-3]}
    autotune._confirm(runs, samples)
    assert calls == {"a": 0, "b": 0} and len(samples["a"]) == 1


def test_measuring_many_candidates_logs_no_framework_warning():
    # Measuring runs inside a user's `fit` (issue 14: no framework warnings during a normal fit). TensorFlow
    # warned of "excessive retracing" during `structconv calibrate` (each candidate is a new tf.function;
    # the warning needs more traces than this test makes, so it checks a short run stays silent on every
    # backend). TensorFlow's logger does not propagate to the root logger: the handler goes on it too.
    import logging

    import numpy as np
    from conftest import tensor

    from structconv.ops import candidate_plans
    from structconv.ops.arguments import conv_arguments
    from structconv.ops.conv import prepare_conv

    rng = np.random.default_rng(0)
    problems = []
    for spatial, kernel in [((200,), (31,)), ((24, 24), (7, 7)), ((10, 10, 10), (5, 5, 5))]:
        x, k = rng.standard_normal((2, *spatial, 3)), rng.standard_normal((*kernel, 3, 4))
        problem, _ = prepare_conv(tensor(x), tensor(k), conv_arguments(len(spatial), 1, "same"))
        problems.append((problem, candidate_plans.candidates(problem)))
    assert sum(len(plans) for _, plans in problems) >= 6  # TensorFlow warns after 5 traces
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    loggers = [logging.getLogger(), logging.getLogger("tensorflow")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        times = [autotune.measure(problem, plans) for problem, plans in problems]
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    assert all(t is not None for found in times for t in found.values())
    assert not records, [r.getMessage()[:200] for r in records]


def test_plans_next_to_the_fastest_are_timed_with_it():
    import numpy as np
    from conftest import tensor

    from structconv.ops import candidate_plans, contenders
    from structconv.ops.arguments import conv_arguments
    from structconv.ops.conv import prepare_conv

    rng = np.random.default_rng(0)
    x, k = rng.standard_normal((1, 2000, 2)), rng.standard_normal((31, 2, 2))
    problem, _ = prepare_conv(tensor(x), tensor(k), conv_arguments(1, 1, "same"))
    candidates = candidate_plans.candidates(problem)
    blocked = next(p for p in candidates if p.algorithm == "fft" and p.fft.geometry == 4)
    asked = []

    def expand(times):  # the plan's neighbours after the first rounds, then nothing more
        asked.append(dict(times))
        return contenders.neighbours(candidates, blocked.label) if len(asked) == 1 else []

    times = autotune.measure(problem, [blocked], expand)
    expected = {blocked.label} | {p.label for p in contenders.neighbours(candidates, blocked.label)}
    assert len(expected) == 3  # blocks of 2 and of 8 too
    # Asked with the times of the one plan timed, then again with those of the plans it named too.
    assert [set(known) for known in asked] == [{blocked.label}, expected]
    assert set(times) == expected and all(t is not None and t > 0 for t in times.values())
    assert all(asked[1][label] == times[label] for label in expected)


def test_a_candidate_far_slower_after_one_call_stops_and_spends_none_of_the_budget():
    # A direct training step past a real backward cliff takes seconds a call: one timed call shows it.
    calls = {"a": 0, "b": 0, "slow": 0}

    def sleeper(name, seconds):
        def run():
            calls[name] += 1
            time.sleep(seconds)
        return run

    runs = {"a": sleeper("a", 1e-3), "b": sleeper("b", 1.2e-3), "slow": sleeper("slow", 0.5)}
    samples = {name: [] for name in runs}
    autotune._rounds(runs, samples)
    assert calls["slow"] == 1 and len(samples["slow"]) == 1
    # The others' budget (0.3 s each) is untouched by it: counted, its 0.5 s would have ended the rounds
    # after the first.
    assert len(samples["a"]) > autotune.GIVE_UP_AFTER and len(samples["b"]) > autotune.GIVE_UP_AFTER
    assert autotune.low_quantile(samples["a"]) < autotune.low_quantile(samples["slow"])


def test_one_disturbed_sample_of_a_millisecond_call_is_not_far():
    # 10x slower once, but under `FAR_SECONDS`: "b" stays in the rounds (the test above's guard).
    samples = {"a": [4e-3], "b": [40e-3]}
    best = min(min(v) for v in samples.values())
    assert not min(samples["b"]) > max(autotune.FAR * best, autotune.FAR_SECONDS)


def test_a_first_call_far_slower_keeps_a_candidate_out_of_the_rounds():
    # Where the backend's warm-up call is a run (`first_call_is_a_run`: JAX on the CPU), its seconds are a
    # sample: a candidate that call shows far slower is not called again (a JAX 4-D decomposition of
    # seconds a call beside plans of 0.1-0.6 s), and the rounds spend none of the budget on it.
    runs, calls = _counting_runs(["a", "b", "slow"])
    samples = {"a": [1e-3], "b": [1.2e-3], "slow": [0.5]}
    autotune._rounds(runs, samples)
    assert calls["slow"] == 0 and samples["slow"] == [0.5]
    assert calls["a"] > autotune.GIVE_UP_AFTER and calls["b"] > autotune.GIVE_UP_AFTER
    # Under `FAR_SECONDS`, or without samples before the rounds, a candidate is called as before.
    runs, calls = _counting_runs(["a", "b"])
    autotune._rounds(runs, {"a": [4e-3], "b": [40e-3]})
    assert calls["b"] >= 1
    assert autotune._far(runs, {"a": [], "b": []}) == []


def test_a_first_call_slowed_by_what_is_set_up_once_does_not_drop_the_fastest():
    # JAX's CPU: a process's first call of its first candidate took 66 ms where later ones took 0.7 ms,
    # over FAR times the others' first calls (1.8 ms and up) and over `FAR_SECONDS`; under
    # `FIRST_RUN_FAR_SECONDS` it is called in the rounds, and wins there.
    runs, calls = _counting_runs(["fast", "b"], {"fast": 0.7e-3, "b": 1.8e-3})
    samples = {"fast": [66e-3], "b": [1.8e-3]}
    assert 66e-3 > max(autotune.FAR * 1.8e-3, autotune.FAR_SECONDS)
    autotune._rounds(runs, samples)
    assert calls["fast"] >= autotune.GIVE_UP_AFTER
    assert autotune.low_quantile(samples["fast"]) < autotune.low_quantile(samples["b"])


def test_a_warm_up_far_slower_still_keeps_a_candidate_out_of_the_rounds():
    # Where the warm-up is not a run (TensorFlow traces and optimises on it), a warm-up of
    # FIRST_CALL_FACTOR * FAR times the others' fastest sample shows the candidate FAR slower all the same:
    # it is its one sample, the candidate is not called, and the others' budget is untouched.
    runs, calls = _counting_runs(["slow", "a", "b"])
    samples = {"slow": [], "a": [], "b": []}
    autotune._rounds(runs, samples, {"slow": 2.0, "a": 0.01, "b": 0.01})
    assert calls["slow"] == 0 and samples["slow"] == [2.0]
    assert calls["a"] > autotune.GIVE_UP_AFTER and calls["b"] > autotune.GIVE_UP_AFTER
    # A warm-up as long as a first call can be (within FIRST_CALL_FACTOR * FAR of the others' samples, here
    # 2 ms calls) is no evidence: the candidate is run.
    runs, calls = _counting_runs(["a", "b"], {"a": 2e-3, "b": 2e-3})
    samples = {"a": [], "b": []}
    autotune._rounds(runs, samples, {"a": 0.01, "b": 0.2})
    # (Close contenders, their samples are those of the confirming rounds: fewer than their calls.)
    assert calls["b"] >= 1 and samples["b"] and 0.2 not in samples["b"]


def test_a_warm_up_under_a_second_is_no_evidence_however_fast_the_others():
    # A TensorFlow warm-up is mostly tracing (150-200 ms for training steps that then ran in 0.6 ms): 300x
    # the others' 0.5 ms calls, but under FIRST_CALL_SECONDS, so the candidate is called and timed, and
    # picked when it is the fastest.
    runs, calls = _counting_runs(["a", "b"], {"a": 1e-3, "b": 0.5e-3})
    samples = {"a": [], "b": []}
    autotune._rounds(runs, samples, {"a": 0.02, "b": 0.3})
    assert calls["b"] >= autotune.GIVE_UP_AFTER and len(samples["b"]) == calls["b"]
    assert autotune.low_quantile(samples["b"]) < autotune.low_quantile(samples["a"])


def test_compile_for_timing_traces_before_the_first_call():
    # The warm-up call measured planning reads is then a call, not a trace (`FIRST_CALL_FACTOR`): on
    # TensorFlow the function is traced when compiled; on every backend the callable runs afterwards.
    from structconv._backend import get_backend

    traced = []

    def function(x, w):
        traced.append(1)
        return x * w

    run = get_backend().compile_for_timing(function, [np.ones(3, np.float32), np.ones(3, np.float32)],
                                           False, "cpu")
    if keras.backend.backend() == "tensorflow":
        assert traced
    run()
    assert traced


def test_each_backend_says_whether_its_first_call_is_a_run():
    from structconv._backend import get_backend

    backend = get_backend()
    # JAX compiles ahead of the first call on the CPU; TensorFlow traces on it, eager torch sets up on it.
    assert backend.first_call_is_a_run("cpu") is (backend.__name__.endswith(".jax"))
    assert backend.first_call_is_a_run("gpu") is False
