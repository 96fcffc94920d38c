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
