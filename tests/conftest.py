"""Shared test helpers: the active backend, tensor conversion and dtype-aware tolerances."""

import atexit
import dataclasses
import math
import os
import re
import shutil
import tempfile

import keras
import numpy as np
import pytest

from structconv import config
from structconv._backend import get_backend
from structconv.tuning import storage

# The tests never read or write the user's cache directory: a profile `structconv calibrate` stored there
# changed the model's choices that tests of the shipped profiles check. Each test process gets its own.
os.environ[storage.CACHE_ENVIRONMENT_VARIABLE] = tempfile.mkdtemp(prefix="structconv-tests-")
atexit.register(shutil.rmtree, os.environ[storage.CACHE_ENVIRONMENT_VARIABLE], True)


def full_float32_on_gpus():
    """The tests check float32 values to 1e-4 of the largest magnitude. On NVIDIA GPUs both frameworks
    compute float32 convolutions in TF32 by default (10-bit mantissas: on an H200, 25 torch and 38 JAX
    float32 checks of tests/ops, tests/fft and tests/tuning missed, by up to 8e-4 of the largest
    magnitude): the tests ask for full float32, a setting of the framework that structconv leaves to its
    users (README, "GPUs")."""
    backend_name = keras.backend.backend()
    if backend_name == "torch":
        import torch

        if torch.cuda.is_available():
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
    elif backend_name == "jax":
        import jax

        if jax.default_backend() == "gpu":
            jax.config.update("jax_default_matmul_precision", "highest")


full_float32_on_gpus()


def pytest_collection_modifyitems(config, items):
    """Tests marked `long` (tens of seconds each: subprocesses, exports, the quick demo) run first.

    pytest-xdist's work stealing gives each process a run of the collection and moves the tail of the
    longest queue to a process that runs dry; a long test left near the end kept one process busy while the
    other waited (tens of seconds per pass on a 2-core VM). Run first, they leave only short tests to the
    end, which the stealing evens out.
    """
    items.sort(key=lambda item: item.get_closest_marker("long") is None)  # stable: otherwise in order


@pytest.fixture(autouse=True)
def model_only_plans(request):
    """Tests check values, which no plan changes: "auto" plans by the model alone, reproducibly and without
    compiling and timing 4-6 candidates per new shape (a third of the JAX pass's time). Measuring has its own
    tests (`tests/tuning`, which keep the default mode)."""
    if "tuning" in request.path.parts:
        yield
        return
    saved = config.autotune()
    config.set_autotune("off")
    yield
    config.set_autotune(saved)

# Relative tolerances by dtype, applied to values scaled by the result's magnitude.
TOLERANCES = {"float32": 1e-4, "float64": 1e-10}


@pytest.fixture
def backend():
    """The name of the active Keras backend: "tensorflow", "jax" or "torch"."""
    return keras.backend.backend()


def to_numpy(x):
    """Any backend's tensor (or array) as a NumPy array."""
    return np.asarray(keras.ops.convert_to_numpy(x))


def torch_device():
    """The device Keras places torch tensors on (a GPU where there is one): tensors a test makes with
    torch itself go there too, or torch refuses to mix them with the layers' ("cuda:0 and cpu")."""
    return keras.ops.zeros(()).device


def tensor(array, dtype="float32"):
    """A backend tensor of `dtype` (NumPy float64 would otherwise become float32)."""
    return keras.ops.convert_to_tensor(np.asarray(array), dtype=dtype)


def dtype_name(x):
    return keras.backend.standardize_dtype(x.dtype)


def assert_close(actual, expected, dtype="float32", rtol=None):
    """Checks `actual` against `expected` with a tolerance relative to the largest expected magnitude."""
    actual, expected = to_numpy(actual).astype(np.float64), to_numpy(expected).astype(np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    rtol = TOLERANCES[dtype] if rtol is None else rtol
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1.0)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def traced(function, *args):
    """Runs `function(*args)` for its errors only: on JAX traced without compiling (`jax.eval_shape`), on
    the other backends run. Tests that draw random configurations until one is valid use it at import."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.eval_shape(function, *args)
    return function(*args)


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

        tensors = [torch.tensor(np.asarray(a, np.float64), device=torch_device()).to(getattr(torch, dtype))
                   .requires_grad_() for a in arrays]
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


def conv_problem_of(inputs, kernel, *, transposed=False, training=None, **arguments):
    """`(problem, args)` of `ops.conv` (`ops.conv_transpose` when `transposed`) of `inputs` and `kernel` with
    the op's keyword `arguments` (strides, padding, dilation_rate, groups, data_format, padding_mode,
    output_padding), checked as the op checks them; `inputs` and `kernel` must be float tensors of one
    dtype (`ops.conv.as_float_tensors`)."""
    from structconv.ops.arguments import conv_arguments
    from structconv.ops.conv import input_rank, prepare_conv
    from structconv.ops.conv_transpose import prepare_conv_transpose

    # Planned as "direct": the FFT plan is the caller's to force, never subject to the memory budget here.
    args = conv_arguments(input_rank(inputs), default_data_format=keras.config.image_data_format(),
                          algorithm="direct", **arguments)
    prepare = prepare_conv_transpose if transposed else prepare_conv
    problem, _ = prepare(inputs, kernel, args, training)
    return problem, args


def forced_plan(problem, algorithm="fft", *, geometry="whole", kernel_transform=None, product=None,
                direct=None, working_dtype=None):
    """The plan of `problem` with the given decisions forced (tests choose strategies by passing plans).

    A candidate of `ops.candidate_plans.candidates`: for "direct", the one running `direct` ("native",
    "inputs", "filters"; None: the cheapest) in `working_dtype` (None: the problem's own); for "fft", the
    one of `geometry` ("whole", or a block factor of `fft_geometry.BLOCK_FACTORS`, the whole input where
    that factor cuts no axis), its kernel transform ("dft" or "fft") and product ("loop", "matmul",
    "planes", "packed") replaced where given. As in the planner, "planes" and "packed" need the kernel's
    spectrum by DFT (else "loop" runs), and "packed" an even batch known when tracing, overlap-save blocks
    counted (else "planes" runs)."""
    from structconv.ops import candidate_plans
    from structconv.ops.problem import is_static

    plans = [p for p in candidate_plans.candidates(problem) if p.algorithm == algorithm]
    if algorithm == "direct":
        chosen = [p for p in plans
                  if (direct is None or p.direct == direct) and p.working_dtype == working_dtype]
        if not chosen:
            raise ValueError(f"no direct candidate {direct!r} for {problem}: {[p.label for p in plans]}")
        return dataclasses.replace(chosen[0], source="forced")
    by_geometry = {p.fft.geometry: p.fft for p in plans}
    fft = by_geometry.get(geometry, by_geometry["whole"])
    transform = kernel_transform or fft.kernel_transform
    product = product or fft.product
    if transform != "dft" and product in ("planes", "packed"):
        product = "loop"
    blocks = problem.batch * math.prod(fft.counts) if is_static(problem.batch) else None
    if product == "packed" and (blocks is None or blocks % 2):
        product = "planes"
    fft = dataclasses.replace(fft, kernel_transform=transform, product=product)
    return dataclasses.replace(plans[0], fft=fft, source="forced")


def conv_with_plan(inputs, kernel, *, transposed=False, training=None, algorithm="fft", geometry="whole",
                   kernel_transform=None, product=None, direct=None, working_dtype=None, **arguments):
    """`ops.conv` (`ops.conv_transpose` when `transposed`) of `inputs` and `kernel` with the op's keyword
    `arguments`, run by the plan `forced_plan` makes with the given decisions, through the executor the ops
    use (`ops.execute.execute`, `ops.conv_transpose.run_conv_transpose`)."""
    from structconv.ops.conv import as_float_tensors
    from structconv.ops.conv_transpose import run_conv_transpose
    from structconv.ops.execute import execute

    inputs, kernel = as_float_tensors(inputs, kernel)
    problem, args = conv_problem_of(inputs, kernel, transposed=transposed, training=training, **arguments)
    plan = forced_plan(problem, algorithm, geometry=geometry, kernel_transform=kernel_transform,
                       product=product, direct=direct, working_dtype=working_dtype)
    if transposed:
        return run_conv_transpose(plan, problem, inputs, kernel, args)
    return execute(plan, problem, inputs, kernel)


def assert_direct_plan_matches_reference(direct, x, k, strides, rng, onto=None, transposed=False, *,
                                        padding="same", dilation=1, data_format="channels_last",
                                        padding_mode="zeros", groups=1, grouping=None):
    """The direct plan `direct` (a decomposition onto rank `onto`; of a grouped convolution, by `grouping`)
    forced on the float64 arrays `x` and `k` (`transposed`: the full transposed convolution), through the
    executor the ops use: its forward against NumPy and its gradients against float64 finite differences
    along a random direction."""
    from reference import conv_reference, conv_transpose_full_reference, padding_pairs

    from structconv.ops.plan import Plan

    rank = x.ndim - 2
    problem, _ = conv_problem_of(tensor(x, "float64"), tensor(k, "float64"), transposed=transposed,
                                 training=True, strides=strides, padding=padding, dilation_rate=dilation,
                                 data_format=data_format, padding_mode=padding_mode, groups=groups)
    plan = Plan("direct", direct=direct, source="forced", onto=onto, grouping=grouping)
    spatial = x.shape[1:-1] if data_format == "channels_last" else x.shape[2:]
    pads = padding_pairs(padding, spatial, k.shape[:rank], strides, dilation)

    def reference(a, b):
        if transposed and data_format == "channels_first":
            full = conv_transpose_full_reference(np.moveaxis(a, 1, -1), b, strides, dilation)
            return np.moveaxis(full, -1, 1)
        if transposed:
            return conv_transpose_full_reference(a, b, strides, dilation)
        return conv_reference(a, b, strides, pads, dilation, groups, padding_mode=padding_mode,
                              data_format=data_format)

    assert_plan_matches_reference(plan, problem, x, k, reference, rng)


def assert_every_direct_way_matches_reference(spatial, kernel, channels, arguments, seed, **changes):
    """Every direct plan the planner offers for a float64 convolution of `channels` input channels (batch 2,
    `spatial` sizes, `kernel` taps, `2 * groups` filters, `arguments` of `ops.conv`), with `changes` made
    to it (`dataclasses.replace`: forced onto a twin whatever the backend prefers), against NumPy's
    convolution, forward and gradients (`assert_plan_matches_reference`)."""
    from reference import conv_reference, padding_pairs

    from structconv.ops import candidate_plans

    rng = np.random.default_rng(seed)
    first = arguments.get("data_format") == "channels_first"
    x = rng.standard_normal((2, channels, *spatial) if first else (2, *spatial, channels))
    groups = arguments.get("groups", 1)
    k = rng.standard_normal((*kernel, channels // groups, 2 * groups))
    problem, args = conv_problem_of(tensor(x, "float64"), tensor(k, "float64"), training=True, **arguments)
    plans = [p for p in candidate_plans.candidates(problem)
             if p.algorithm == "direct" and p.direct != "im2col"]
    assert plans
    pairs = padding_pairs(args.padding, spatial, kernel, args.strides, args.dilation_rate)

    def reference(a, b):
        return conv_reference(a, b, args.strides, pairs, args.dilation_rate, groups, args.padding_mode,
                              args.data_format)

    for plan in plans:
        assert_plan_matches_reference(dataclasses.replace(plan, **changes), problem, x, k, reference, rng)


def assert_plan_matches_reference(plan, problem, x, k, reference, rng):
    """`plan` of `problem` run by the executor on the float64 arrays `x` and `k`: its forward against
    `reference(x, k)` (NumPy) and its gradients against float64 central differences of the reference
    along a random direction (weights and directions drawn from `rng`)."""
    from reference import numerical_directional_derivative

    from structconv.ops.execute import execute

    expected = reference(x, k)
    weights = rng.standard_normal(expected.shape)

    def loss(a, b):
        return keras.ops.sum(execute(plan, problem, a, b) * tensor(weights, "float64"))

    assert_close(execute(plan, problem, tensor(x, "float64"), tensor(k, "float64")), expected, "float64")
    gradients = autodiff_gradients(loss, x, k)
    for i, array in enumerate((x, k)):
        direction = rng.standard_normal(array.shape)

        def numeric_loss(value, i=i):
            operands = [x, k]
            operands[i] = value
            return float(np.sum(reference(*operands) * weights))

        numeric = numerical_directional_derivative(numeric_loss, array, direction)
        assert np.sum(gradients[i] * direction) == pytest.approx(numeric, rel=1e-6), plan.label


def with_backward_cliff(profile, taps, gflops):
    """`profile` with a backward cliff as `structconv calibrate` records one: per rank the kernel taps past
    which the direct gradient leaves its fast path (`Costs.direct_cliff_taps`, 0: none) and its rate there."""
    return dataclasses.replace(profile, costs=dataclasses.replace(
        profile.costs, direct_cliff_taps=taps, direct_cliff_gflops=gflops))


def tensorflow_on_eigen():
    """Whether this is TensorFlow running its CPU convolutions without oneDNN (its default on CPUs without
    AVX-512; `TF_ENABLE_ONEDNN_OPTS=0`)."""
    return keras.backend.backend() == "tensorflow" and get_backend().kernel_library("cpu") == "Eigen"


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
