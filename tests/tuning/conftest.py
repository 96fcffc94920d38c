"""Every tuning test gets its own empty cache directory and a planner with nothing in memory."""

import pytest

from structconv import config
from structconv.ops import planner
from structconv.tuning import autotune, plan_file, profile, storage


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(storage.CACHE_ENVIRONMENT_VARIABLE, str(tmp_path / "cache"))
    monkeypatch.setattr(storage, "_warned", set())
    profile.forget_loaded()
    plan_file.forget_loaded()
    planner.clear_plans()
    yield tmp_path / "cache"
    profile.forget_loaded()
    plan_file.forget_loaded()
    planner.clear_plans()


@pytest.fixture
def autotune_mode():
    """`config.set_autotune`, the mode in force restored after the test."""
    saved = config.autotune()
    yield config.set_autotune
    config.set_autotune(saved)


@pytest.fixture
def stand_in_times(monkeypatch):
    """`stand_in_times(winner)`: from then on measured planning times every candidate at 100 us but
    `winner`, at 10 us, and no plan file is read or written (a fresh plan cache)."""
    def use(winner):
        planner.clear_plans()
        monkeypatch.setattr(planner.plan_file, "lookup", lambda *a: None)
        monkeypatch.setattr(planner.plan_file, "remembered_times", lambda *a: {})
        monkeypatch.setattr(planner.plan_file, "record", lambda *a, **k: None)
        monkeypatch.setattr(autotune, "measure", lambda problem, plans, expand: {
            p.label: 10.0 if p.label == winner else 100.0 for p in plans})

    return use
