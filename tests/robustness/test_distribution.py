"""Distributed data-parallel training of a structconv model gives the single-device weights, constraints kept.

The model (`distributed_worker.build_model`) holds a ZeroSum-parametrized `Conv2D`, a masked `Conv2D`, an
FFT `Conv2D`, `PhaseModulation`, a phase-only `ComplexConv2D`, `Intensity` and a `Conv4D`. Each test trains
it for a few SGD steps on one device and under one distribution API with 2 devices, in a subprocess
(`XLA_FLAGS` and TensorFlow's logical devices must be set before the framework starts; DDP needs one process
per rank), then checks that both runs end at the same weights within float32 rounding, that training moved
them, and that the constraints hold on the distributed model's kernels.

Each test runs in its own backend's pass of the suite only: the subprocesses start a framework, which costs
seconds, and the other backends' passes would repeat the same check.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.long
BACKEND = keras.backend.backend()
WORKER = Path(__file__).with_name("distributed_worker.py")
TIMEOUT = 300  # seconds per subprocess: generous, the machine may be busy


def only_on(backend):
    return pytest.mark.skipif(
        BACKEND != backend,
        reason=f"runs in the {backend} pass of the suite (it starts {backend} in a subprocess)",
    )


def start_worker(*args, extra_env=None):
    env = dict(os.environ, KERAS_BACKEND=BACKEND, TF_CPP_MIN_LOG_LEVEL="3", OMP_WAIT_POLICY="PASSIVE")
    env.update(extra_env or {})
    return subprocess.Popen(
        [sys.executable, str(WORKER), *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process):
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"the worker did not finish within {TIMEOUT} s:\n{output[-3000:]}")
    assert process.returncode == 0, output[-3000:]


def weights(result, prefix):
    count = len([k for k in result.files if k.startswith(f"{prefix}/")])
    return [result[f"{prefix}/{i}"] for i in range(count)]


def check_result(result):
    assert int(result["devices"]) == 2
    initial, single, distributed = (weights(result, p) for p in ("initial", "single", "distributed"))
    assert len(single) == len(distributed) == len(initial) == 13
    moved = max(float(np.abs(s - i).max()) for s, i in zip(single, initial))
    assert moved > 1e-2, "training did not move the weights: the comparison would be vacuous"
    for index, (s, d) in enumerate(zip(single, distributed)):
        # Float32 rounding: the two runs sum the gradients of the two halves in different orders.
        np.testing.assert_allclose(d, s, rtol=1e-4, atol=1e-5, err_msg=f"weight {index}")
    assert float(result["masked_max"]) == 0.0  # masked entries are not variables: exactly 0
    assert float(result["zero_sum_residual"]) < 1e-6  # relative to the kernel's magnitude
    assert float(result["unit_modulus_residual"]) < 1e-6


@only_on("jax")
def test_jax_data_parallel_matches_single_device(tmp_path):
    path = tmp_path / "jax.npz"
    finish(start_worker("jax", path))
    result = np.load(path)
    assert list(result["placements"]) == [2]  # every variable is replicated on both devices
    check_result(result)


@only_on("tensorflow")
def test_tensorflow_mirrored_strategy_matches_single_device(tmp_path):
    path = tmp_path / "tensorflow.npz"
    finish(start_worker("tensorflow", path))
    result = np.load(path)
    assert list(result["placements"]) == [2]  # every variable is mirrored on both devices
    check_result(result)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@only_on("torch")
def test_torch_distributed_data_parallel_matches_single_device(tmp_path):
    port = free_port()
    paths = [tmp_path / f"rank{rank}.npz" for rank in range(2)]
    workers = [start_worker("torch-ddp", paths[rank], rank, 2, port) for rank in range(2)]
    try:
        for worker in workers:
            finish(worker)
    finally:
        for worker in workers:  # a rank left waiting for a failed peer
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    rank0, rank1 = (np.load(path) for path in paths)
    check_result(rank0)
    # DDP keeps the replicas identical: both processes end at the same weights, bit for bit.
    for a, b in zip(weights(rank0, "distributed"), weights(rank1, "distributed")):
        np.testing.assert_array_equal(a, b)
    assert float(rank1["masked_max"]) == 0.0
