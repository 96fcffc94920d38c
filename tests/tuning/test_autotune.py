"""`tuning.autotune`'s confirmation rounds: close contenders get timed again, clear winners do not."""

from structconv.tuning import autotune


def _counting_runs(names):
    calls = dict.fromkeys(names, 0)

    def run_of(name):
        def run():
            calls[name] += 1
        return run

    return {name: run_of(name) for name in names}, calls


def test_close_contenders_are_timed_again_alone():
    runs, calls = _counting_runs(["a", "b", "c"])
    samples = {"a": [1.0e-3], "b": [1.1e-3], "c": [5.0e-3]}
    autotune._confirm(runs, samples)
    assert calls["a"] == calls["b"] == autotune.CONFIRM_ROUNDS and calls["c"] == 0
    assert len(samples["a"]) == len(samples["b"]) == 1 + autotune.CONFIRM_ROUNDS


def test_a_clear_winner_is_not_timed_again():
    runs, calls = _counting_runs(["a", "b"])
    samples = {"a": [1.0e-3], "b": [autotune.CONFIRM_WITHIN * 1.01e-3]}
    autotune._confirm(runs, samples)
    assert calls == {"a": 0, "b": 0} and len(samples["a"]) == 1
