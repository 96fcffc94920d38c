"""The FFT tests check the cost model's own choices: autotuning off, plans made afresh per test."""

import pytest

from structconv import config
from structconv.ops import planner


@pytest.fixture(autouse=True)
def model_only():
    """The model's choices (no timing, whatever STRUCTCONV_AUTOTUNE says), planned afresh."""
    saved = config.autotune()
    config.set_autotune("off")
    planner.clear_plans()
    yield
    config.set_autotune(saved)
    planner.clear_plans()
