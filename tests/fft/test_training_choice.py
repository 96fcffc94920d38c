"""With a gradient to take, `algorithm="auto"` weighs forward + backward: the op asks the backend (eager
torch knows), a Keras layer passes its `training` flag, and the choice is kept per flag."""

import dataclasses
import importlib

import keras
import numpy as np
import pytest
from conftest import assert_close

from structconv import layers
from structconv.ops import candidate_plans, cost_model, planner
from structconv.ops.algorithm import explain_choice
from structconv.ops.make_problem import expects_gradient
from structconv.tuning import profile as profiles

BACKEND = keras.backend.backend()
# Rank 4, 81 taps, several milliseconds of modelled work on every backend (not a tiny, all-overhead call).
INPUT_SHAPE, KERNEL_SIZE, FILTERS = (1, 12, 12, 12, 12, 8), (3, 3, 3, 3), 8


def use_costs(monkeypatch, **changes):
    """The planner uses the active backend's profile with these cost constants changed."""
    profile = candidate_plans.profile_for(BACKEND)
    custom = dataclasses.replace(profile, costs=dataclasses.replace(profile.costs, **changes))
    monkeypatch.setattr(candidate_plans, "profile_for", lambda *args, **kwargs: custom)
    planner.clear_plans()


@pytest.fixture
def backward_heavy_direct(monkeypatch):
    """The active backend's constants, with a margin that keeps the forward pass direct and a direct
    backward pass ten times as costly as FFT's."""
    info = explain_choice(INPUT_SHAPE, (*KERNEL_SIZE, 8, FILTERS), padding="same")
    shipped = candidate_plans.profile_for(BACKEND)
    shipped_margin = cost_model.per_rank(shipped.costs.fft_margin, len(KERNEL_SIZE))
    margin = 2.0 * info["direct_us"] / (info["fft_us"] / shipped_margin)
    use_costs(monkeypatch, fft_margin=(margin,), direct_training=(10.0,), fft_training=(1.0,))


def test_training_weighs_the_backward_pass(backward_heavy_direct):
    kernel_shape = (*KERNEL_SIZE, 8, FILTERS)
    assert explain_choice(INPUT_SHAPE, kernel_shape, padding="same")["algorithm"] == "direct"
    assert explain_choice(INPUT_SHAPE, kernel_shape, padding="same", training=True)["algorithm"] == "fft"


def test_fitted_training_factors_make_backward_heavy_direct_costlier():
    # Above rank 3 the decomposed direct convolution's backward pass is the costlier (benchmarks/ndconv.py).
    # Every shipped profile; the hand-set ones model no training factor at the native ranks, a calibrated one
    # (TensorFlow's for its Eigen kernels) fits one per rank: a step never costs less than its forward pass.
    for backend_name, kernels in (("tensorflow", ""), ("jax", ""), ("torch", ""), ("tensorflow", "Eigen")):
        c = profiles.shipped(backend_name, "cpu", kernels).costs
        assert c.direct_training[-1] > c.fft_training[-1] >= 1.0
        assert min(c.direct_training + c.fft_training) >= 1.0


def test_expects_gradient_takes_the_flag_or_asks_the_backend():
    x, k = keras.ops.ones((1, 4, 1)), keras.ops.ones((2, 1, 1))
    assert expects_gradient(x, k, True) is True
    assert expects_gradient(x, k, False) is False
    # Plain tensors: no gradient requested (torch: nothing requires one; TensorFlow: no tape records).
    assert expects_gradient(x, k) is False
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            assert expects_gradient(x, k) is False  # nothing watched
            tape.watch(k)
            assert expects_gradient(x, k) is True
            with tape.stop_recording():
                assert expects_gradient(x, k) is False
        seen = []

        @tf.function
        def traced(k):
            with tf.GradientTape() as tape:
                tape.watch(k)
                seen.append(expects_gradient(x, k))
                y = k * 2.0
            return tape.gradient(y, k)

        traced(k)
        assert seen == [True]  # also while a tf.function traces
    if BACKEND == "jax":
        import jax

        seen = []
        jax.grad(lambda k: seen.append(expects_gradient(x, k)) or keras.ops.sum(k))(k)
        jax.jit(lambda k: seen.append(expects_gradient(x, k)) or k)(k)
        assert seen == [True, False]  # under jax.grad, not under jax.jit alone
    if BACKEND == "torch":
        import torch

        assert expects_gradient(x, torch.ones((2, 1, 1), requires_grad=True)) is True
        with torch.no_grad():
            assert expects_gradient(x, torch.ones((2, 1, 1), requires_grad=True)) is False


def test_layer_training_flag_steers_auto(backward_heavy_direct):
    layer = layers.ConvND(FILTERS, KERNEL_SIZE, padding="same")
    x = np.random.default_rng(0).standard_normal(INPUT_SHAPE).astype("float32")
    inference = layer(x, training=False)
    training = layer(x, training=True)
    # The layer's plans per (input shape, dtype, kernel shape, dtype, training flag, planner settings,
    # arguments).
    chosen = {key[4]: plan.algorithm for key, (_, plan) in layer._structconv_plans.items()}
    # The flag decides, also on torch, whose layer kernel always requires a gradient.
    assert chosen == {False: "direct", True: "fft"}
    assert_close(keras.ops.convert_to_numpy(training), keras.ops.convert_to_numpy(inference), "float32")
    assert layer._training_hint is None  # the flag does not outlive the call


def test_transposed_layer_training_flag_steers_auto(monkeypatch):
    # A margin no forward cost can beat, and a direct backward pass costlier still: FFT only in training.
    use_costs(monkeypatch, fft_margin=(1e9,), direct_training=(1e12,), fft_training=(1.0,))
    execute_module = importlib.import_module("structconv.ops.execute")  # the executor's module

    calls = []
    original = execute_module.fft_conv_transpose_full
    monkeypatch.setattr(execute_module, "fft_conv_transpose_full",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    layer = layers.ConvNDTranspose(FILTERS, KERNEL_SIZE, strides=2, padding="same")
    x = np.random.default_rng(0).standard_normal(INPUT_SHAPE).astype("float32")
    inference = keras.ops.convert_to_numpy(layer(x, training=False))
    assert calls == []
    training = keras.ops.convert_to_numpy(layer(x, training=True))
    assert calls == [1]
    assert_close(training, inference, "float32")


@pytest.mark.parametrize("layer_class", [layers.DepthwiseConvND, layers.SeparableConvND])
def test_depthwise_layers_training_flag_steers_auto(monkeypatch, layer_class):
    # The depthwise step goes through the same seam as `ConvND`: FFT only when the gradient will be taken.
    use_costs(monkeypatch, fft_margin=(1e9,), direct_training=(1e12,), fft_training=(1.0,))
    arguments = (FILTERS, KERNEL_SIZE) if layer_class is layers.SeparableConvND else (KERNEL_SIZE,)
    layer = layer_class(*arguments, padding="same")
    x = np.random.default_rng(0).standard_normal(INPUT_SHAPE).astype("float32")
    inference = keras.ops.convert_to_numpy(layer(x, training=False))
    training = keras.ops.convert_to_numpy(layer(x, training=True))
    # The depthwise step's plans (one group per channel); a separable layer's pointwise step stays direct.
    chosen = {(key[4], key[6].groups): plan.algorithm for key, (_, plan) in layer._structconv_plans.items()}
    expected = {(False, 8): "direct", (True, 8): "fft"}
    if layer_class is layers.SeparableConvND:
        expected.update({(False, 1): "direct", (True, 1): "direct"})
    assert chosen == expected
    assert_close(training, inference, "float32")
    assert layer._training_hint is None


def test_layer_without_the_flag_asks_the_backend():
    # A custom training loop calls the layer without `training`: the plan follows the backend's answer,
    # kept apart from the inference plan (one plan per answer).
    layer = layers.ConvND(2, 3, rank=1)
    x = keras.ops.convert_to_tensor(np.ones((1, 8, 1), "float32"))
    if BACKEND == "tensorflow":
        import tensorflow as tf

        layer(x)  # no tape
        with tf.GradientTape() as tape:
            tape.watch(x)
            layer(x)
    elif BACKEND == "jax":
        import jax

        layer(x)
        jax.grad(lambda v: keras.ops.sum(layer(v)))(x)
    else:
        import torch

        layer(x)  # the layer's kernel requires a gradient and autograd records
        with torch.no_grad():
            layer(x)
    assert sorted(key[4] for key in layer._structconv_plans) == [False, True]
