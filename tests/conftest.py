"""Shared test helpers: the active backend, tensor conversion and dtype-aware tolerances."""

import re

import keras
import numpy as np
import pytest

# Relative tolerances by dtype, applied to values scaled by the result's magnitude.
TOLERANCES = {"float32": 1e-4, "float64": 1e-10}


@pytest.fixture
def backend():
    """The name of the active Keras backend: "tensorflow", "jax" or "torch"."""
    return keras.backend.backend()


def to_numpy(x):
    """Any backend's tensor (or array) as a NumPy array."""
    return np.asarray(keras.ops.convert_to_numpy(x))


def tensor(array, dtype="float32"):
    """A backend tensor of `dtype` (NumPy float64 would otherwise become float32)."""
    return keras.ops.convert_to_tensor(np.asarray(array), dtype=dtype)


def dtype_name(x):
    return keras.backend.standardize_dtype(x.dtype)


def assert_close(actual, expected, dtype="float32", rtol=None):
    """Checks `actual` against `expected` with a tolerance relative to the largest expected magnitude."""
    actual, expected = to_numpy(actual).astype(np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    rtol = TOLERANCES[dtype] if rtol is None else rtol
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1.0)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def compiled(function):
    """`function` compiled as one program on JAX (`jax.jit`), unchanged on the other backends.

    JAX on CPU otherwise compiles every eager primitive separately for each new shape, which makes sweeps
    over many small configurations several times slower. Non-tensor arguments must be closed over.
    """
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(function)
    return function


def autodiff_gradients(function, *arrays, dtype="float64"):
    """Gradients of the scalar `function(*tensors)` w.r.t. each array, cast to `dtype` (float64 unless
    told), by the backend's autodiff, returned as float64 NumPy arrays.

    `function` takes and returns backend tensors; the backend switch is for tests only. JAX runs under
    `jit`: one compilation instead of one per primitive of the eager trace.
    """
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        tensors = [torch.tensor(np.asarray(a, np.float64)).to(getattr(torch, dtype)).requires_grad_()
                   for a in arrays]
        gradients = torch.autograd.grad(function(*tensors), tensors)
        return [g.detach().cpu().double().numpy() for g in gradients]
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        tensors = [jnp.asarray(a, dtype=jnp.float64).astype(dtype) for a in arrays]
        gradients = jax.jit(jax.grad(function, argnums=tuple(range(len(tensors)))))(*tensors)
        return [np.asarray(g, np.float64) for g in gradients]
    import tensorflow as tf

    tensors = [tf.cast(tf.constant(a, tf.float64), dtype) for a in arrays]
    with tf.GradientTape() as tape:
        for t in tensors:
            tape.watch(t)
        value = function(*tensors)
    return [np.asarray(tf.cast(g, tf.float64)) for g in tape.gradient(value, tensors)]


def single_torch_thread():
    """A generator for package fixtures of many tiny kernels: on PyTorch one intra-op thread is faster than
    a pool that spins on a busy 2-core machine. The setting is put back afterwards."""
    if keras.backend.backend() != "torch":
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def force_product(monkeypatch, product):
    """Makes the spectral product a sum of broadcast products on complex spectra ("loop") or on real and
    imaginary planes ("planes", with a kernel spectrum by DFT; "packed": the same with two batch items per
    complex FFT where the batch is even), or a batched matrix product per frequency ("matmul"), whatever the
    channel count, rank and backend (`fft_conv.PRODUCT_LOOP_MAX_CHANNELS`, `PLANES_PRODUCT`,
    `PACKED_PAIRS_MIN_RANK`)."""
    from structconv.ops import fft_conv

    backend = keras.backend.backend()
    limit = 0 if product == "matmul" else 10**6
    monkeypatch.setattr(fft_conv, "PRODUCT_LOOP_MAX_CHANNELS", {backend: limit})
    monkeypatch.setattr(fft_conv, "PLANES_PRODUCT", {backend: product in ("planes", "packed")})
    monkeypatch.setattr(fft_conv, "PACKED_PAIRS_MIN_RANK", {backend: 1} if product == "packed" else {})
    monkeypatch.setattr(fft_conv, "PACKED_MAX_KERNEL_RATIO", float("inf"))  # whatever the channels


# What TensorFlow says where its CPU kernels lack an operation that stock Keras asks for: without oneDNN
# (its default on CPUs without AVX-512, and with TF_ENABLE_ONEDNN_OPTS=0) there is no channels_first
# convolution, no dilated transposed convolution and no gradient of a grouped convolution.
_NO_KERNEL = re.compile(
    r"only supports (the )?NW?D?HWC|not yet support dilation|grouped convolutions are not supported on CPU"
)


def stock_or_reference(stock, numpy_reference):
    """`stock()` (a stock Keras layer or op) as a NumPy array, or `numpy_reference()` where the backend has no
    kernel for that operation on this device: the comparison then still checks structconv, against NumPy."""
    try:
        return to_numpy(stock())
    except Exception as error:
        if not _NO_KERNEL.search(str(error)):
            raise
    return np.asarray(numpy_reference())


def stock_runs(stock):
    """Whether `stock()` runs here (False only where the backend lacks the kernel: `stock_or_reference`)."""
    try:
        stock()
    except Exception as error:
        if not _NO_KERNEL.search(str(error)):
            raise
        return False
    return True
