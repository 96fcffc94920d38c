"""The FFT tests check the cost model's own choices (autotuning is off outside `tests/tuning`: the root
conftest), with plans made afresh per test."""

import pytest

from structconv.ops import planner


@pytest.fixture(autouse=True)
def fresh_plans():
    planner.clear_plans()
    yield
    planner.clear_plans()
