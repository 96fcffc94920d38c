"""Fixtures of the parametrization tests."""

import pytest
from conftest import single_torch_thread


@pytest.fixture(scope="package", autouse=True)
def _single_torch_thread():
    yield from single_torch_thread()
