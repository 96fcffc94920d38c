"""Fixtures of the complex-convolution tests."""

import keras
import pytest


@pytest.fixture(scope="package", autouse=True)
def _single_torch_thread():
    """Many tiny convolutions: on PyTorch one intra-op thread beats a pool spinning on a busy 2-core machine.
    The setting is put back afterwards."""
    if keras.backend.backend() != "torch":
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
