"""Every script in benchmarks/ imports (its names resolve against the package as it is now): a benchmark
that no longer runs is a claim in docs/benchmarks.md that nobody can reproduce."""

import importlib.util
import pathlib
import sys

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.parametrize("path", sorted(BENCHMARKS.glob("*.py")), ids=lambda p: p.stem)
def test_benchmark_script_imports(path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"benchmark_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)  # runs the imports and definitions; `main` is behind `__main__`
    assert callable(getattr(module, "main", None)) or path.stem == "environment", f"{path.name} has no main()"


@pytest.mark.parametrize("kind", ["plain", "grouped", "transposed"])
def test_auto_vs_forced_draws_problems_the_ops_accept(kind, monkeypatch):
    """`auto_vs_forced.py --varied --kind K` draws problems a convolution of that kind can be: grouped ones
    with channels and filters that the groups divide (depthwise among them), transposed ones ungrouped
    and unpadded, as `ops.conv_transpose` plans its full convolution."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import auto_vs_forced

    points = auto_vs_forced.varied_points(40, seed=7, max_channels=16, max_batch=4, kind=kind)
    problems = [auto_vs_forced.point_problem(point, "torch", "cpu") for point in points]
    assert len(problems) == 40
    for problem in problems:
        assert problem.channels % problem.groups == 0 and problem.filters % problem.groups == 0
        assert problem.transposed == (kind == "transposed")
        if kind == "transposed":
            assert problem.groups == 1 and problem.padding == ((0, 0),) * problem.rank
    groups = {problem.groups for problem in problems}
    if kind == "grouped":
        assert any(problem.groups == problem.channels for problem in problems)  # depthwise
        assert groups & {2, 4} and 1 not in groups
    else:
        assert groups == {1}


def test_planner_replay_floor_scores_one_collections_fastest_in_the_other(monkeypatch):
    """`planner_replay.py floor`: at each shape both collections timed, the candidate fastest in one (among
    the candidates both timed) over the fastest in the other; shapes with fewer than two such candidates,
    or in one collection only, are left out."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import planner_replay

    one = {"p": {"times": {"a": 1.0, "b": 2.0, "c": 0.5}}, "q": {"times": {"a": 1.0, "b": 4.0}},
           "s": {"times": {"a": 1.0}}}
    other = {"p": {"times": {"a": 3.0, "b": 2.0}}, "q": {"times": {"a": 1.0, "b": 9.0}},
             "s": {"times": {"a": 1.0, "b": 2.0}}}
    assert planner_replay._floor_ratios(one, other) == [(1.5, "p"), (1.0, "q")]
    assert planner_replay._floor_ratios(other, one) == [(2.0, "p"), (1.0, "q")]
