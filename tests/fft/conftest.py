"""The FFT tests check the cost model's own choices (autotuning is off outside `tests/tuning`: the root
conftest), with plans made afresh per test."""

import pytest

from structconv.ops import planner


@pytest.fixture(autouse=True)
def fresh_plans():
    planner.clear_plans()
    yield
    planner.clear_plans()


@pytest.fixture(params=["dft", "fft"])
def kernel_transform(request):
    """The kernel's spectrum computed by DFT matrices, or by FFT (forced in the plan)."""
    return request.param


@pytest.fixture(params=["whole", 2])
def geometry(request):
    """The whole input in one FFT, or overlap-save blocks where an axis is long enough (forced in the
    plan)."""
    return request.param
