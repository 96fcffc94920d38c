"""Every tuning test gets its own empty cache directory and a planner with nothing in memory."""

import pytest

from structconv import config
from structconv.ops import planner
from structconv.tuning import plan_file, profile, storage


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
