"""Every tuning test gets its own empty cache directory and a planner with nothing in memory."""

import pytest

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
