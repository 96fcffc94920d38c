"""Every structconv layer under the `mixed_float16` and `mixed_bfloat16` policies.

Each layer builds, runs forward with outputs in the compute dtype (float16 or bfloat16), close to the same
layer in float32 with the same weights, and trains one step (backward, through Keras's optimizer, with loss
scaling under mixed_float16) leaving every variable float32 and finite. Parametrizations run on the float32
variable inside `call` (the variable is not autocast) and the kernel is cast afterwards, so every constraint
holds on the float32 kernel to float32 rounding, as without mixed precision.
"""

import keras
import numpy as np
import pytest
from conftest import compiled
from parametrizations.param_helpers import CASE_NAMES, cases, check_invariant

from structconv import layers
from structconv import parametrizations as P

POLICIES = ("mixed_float16", "mixed_bfloat16")
# Relative error of a small convolution computed in the compute dtype, against float32: a few units of
# the compute dtype's epsilon (2^-11 for float16, 2^-8 for bfloat16) times the number of terms' growth.
TOLERANCE = {"float16": 1e-2, "bfloat16": 6e-2}


def dtype_of(x):
    return keras.backend.standardize_dtype(x.dtype)


def numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x), np.float64)


def spatial_input(rank, channels=2, size=5, batch=2, seed=0):
    size = 4 if rank == 4 else size
    return np.random.default_rng(seed).standard_normal((batch,) + (size,) * rank + (channels,)).astype(
        "float32"
    )


def real_layers():
    """name -> (layer factory, input): the real-valued convolution layers, plain and parametrized."""
    out = {}
    for rank in (1, 2, 3, 4):
        out[f"ConvND_rank{rank}"] = (lambda r=rank: layers.ConvND(3, 3, rank=r, padding="same"), rank)
        out[f"ConvNDTranspose_rank{rank}"] = (
            lambda r=rank: layers.ConvNDTranspose(3, 3, rank=r, strides=2, padding="same"),
            rank,
        )
    aliases = [layers.Conv1D, layers.Conv2D, layers.Conv3D, layers.Conv4D]
    transposed = [
        layers.Conv1DTranspose, layers.Conv2DTranspose, layers.Conv3DTranspose, layers.Conv4DTranspose
    ]
    for rank, (cls, cls_t) in enumerate(zip(aliases, transposed), start=1):
        out[cls.__name__] = (lambda c=cls: c(3, 2, padding="causal" if c is layers.Conv1D else "valid"), rank)
        out[cls_t.__name__] = (lambda c=cls_t: c(3, 2, strides=2), rank)
    out["Conv2D_fft"] = (lambda: layers.Conv2D(3, 3, padding="same", algorithm="fft"), 2)
    out["Conv2DTranspose_fft"] = (lambda: layers.Conv2DTranspose(3, 3, strides=2, algorithm="fft"), 2)
    out["Conv2D_groups_reflect"] = (
        lambda: layers.Conv2D(4, 3, padding="same", groups=2, padding_mode="reflect"),
        2,
    )
    return out


REAL = real_layers()


@pytest.fixture(params=POLICIES)
def policy(request):
    """Sets the global dtype policy for the test and puts the previous one back afterwards."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(request.param)
    try:
        yield keras.config.dtype_policy()
    finally:
        keras.config.set_dtype_policy(previous)


def test_policy_fixture_restores_the_global_policy():
    # The module's tests leave the process in float32, whichever order they ran in.
    assert keras.config.dtype_policy().name == "float32"


def float32_twin(layer, x):
    """The same layer (config and weights) under the float32 policy, called on `x`."""
    config = layer.get_config()
    config["dtype"] = "float32"
    twin = type(layer).from_config(config)
    twin.build(x[0].shape if isinstance(x, tuple) else x.shape)
    twin.set_weights(layer.get_weights())
    return compiled(twin)(x)


def assert_close_to(actual, expected, compute_dtype):
    actual, expected = numpy(actual), numpy(expected)
    scale = max(float(np.abs(expected).max()), 1.0)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE[compute_dtype] * scale)


def check_forward(layer, x, policy):
    if not layer.built:  # outside the compiled call: variables cannot be created while tracing
        layer.build(x[0].shape if isinstance(x, tuple) else x.shape)
    y = compiled(layer)(x)
    compute = policy.compute_dtype
    parts = y if isinstance(y, tuple) else (y,)
    for part in parts:
        assert dtype_of(part) == compute
        assert np.all(np.isfinite(numpy(part)))
    assert all(dtype_of(w) == "float32" for w in layer.weights)
    expected = float32_twin(layer, x)
    for part, want in zip(parts, expected if isinstance(expected, tuple) else (expected,)):
        assert_close_to(part, want, compute)


@pytest.mark.parametrize("name", tuple(REAL))
def test_real_layer(policy, name):
    factory, rank = REAL[name]
    layer = factory()
    x = spatial_input(rank, channels=4 if "groups" in name else 2)
    check_forward(layer, x, policy)


def spy_on_parametrization(layer):
    """Records the dtype each call of the layer's built parametrization receives and returns."""
    seen = []
    parametrization = layer.kernel_parametrization
    forward = parametrization.forward

    def recorded(free):
        kernel = forward(free)
        seen.append((dtype_of(free), dtype_of(kernel)))
        return kernel

    parametrization.forward = recorded
    return seen


@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "transpose"])
@pytest.mark.parametrize("case", CASE_NAMES)
def test_parametrized_layer(policy, case, transposed):
    # The helpers' cases are built for kernels (3, 3, 2, 2): 2 channels in, 2 filters.
    cls = layers.Conv2DTranspose if transposed else layers.Conv2D
    layer = cls(2, 3, kernel_parametrization=cases()[case])
    x = spatial_input(2)
    layer.build(x.shape)
    seen = spy_on_parametrization(layer)
    check_forward(layer, x, policy)
    assert seen and all(pair == ("float32", "float32") for pair in seen), seen
    assert dtype_of(layer.free_kernel) == "float32"
    kernel = layer.kernel  # outside `call`: the float32 kernel
    assert dtype_of(kernel) == "float32"
    assert check_invariant(case, numpy(kernel)) == []


COMPLEX = {
    "ComplexConv1D": (lambda: layers.ComplexConv1D(2, 3, padding="same"), 1),
    "ComplexConv2D_unit_modulus": (
        lambda: layers.ComplexConv2D(2, 3, padding="same", kernel_parametrization=P.UnitModulus()),
        2,
    ),
    "ComplexConv3D_unit_norm": (
        lambda: layers.ComplexConv3D(2, 2, kernel_parametrization=P.UnitNorm(axis=-1)),
        3,
    ),
    "ComplexConvND_rank4": (lambda: layers.ComplexConvND(2, 2, rank=4, method="naive"), 4),
    "ComplexConv2D_gauss_fft": (lambda: layers.ComplexConv2D(2, 3, method="gauss", algorithm="fft"), 2),
}


@pytest.mark.parametrize("name", tuple(COMPLEX))
def test_complex_layer(policy, name):
    factory, rank = COMPLEX[name]
    layer = factory()
    x = spatial_input(rank)
    pair = (x, 0.5 * x[::-1].copy())
    layer.build(x.shape)
    seen = spy_on_parametrization(layer) if layer.kernel_parametrization is not None else None
    check_forward(layer, pair, policy)
    if seen is not None:
        assert seen and all(pair == ("float32", "float32") for pair in seen), seen
        real, imag = (numpy(part) for part in layer.kernel)
        np.testing.assert_allclose(np.hypot(real, imag), 1.0, atol=1e-6)


def test_complex_layer_on_a_native_complex_input(policy):
    # No complex dtype narrower than complex64 exists: a complex input keeps complex64.
    layer = layers.ComplexConv2D(2, 3, kernel_parametrization=P.UnitModulus())
    x = spatial_input(2)
    z = keras.ops.convert_to_tensor(x + 1j * x[::-1], dtype="complex64")
    y = layer(z)
    assert dtype_of(y) == "complex64"
    assert np.all(np.isfinite(numpy(keras.ops.real(y))))


def test_phase_modulation_and_intensity(policy):
    x = spatial_input(2)
    modulation = layers.PhaseModulation(phase_initializer=keras.initializers.RandomUniform(-3.0, 3.0))
    check_forward(modulation, x, policy)
    assert dtype_of(modulation.phase) == "float32"
    # cos and sin are taken of the float32 phase: outputs equal x cos(phi) rounded once to the compute dtype.
    real, _ = modulation(x)
    expected = x * np.cos(numpy(modulation.phase))
    eps = {"float16": 2.0**-11, "bfloat16": 2.0**-8}[policy.compute_dtype]
    np.testing.assert_allclose(numpy(real), expected, rtol=0, atol=4 * eps * np.abs(x).max())
    intensity = layers.Intensity()
    out = intensity(modulation(x))
    assert dtype_of(out) == policy.compute_dtype


def every_layer():
    """name -> (fresh layer, rank, kind): every layer of the tests below, for the one training model."""
    out = {name: (factory(), rank, "real") for name, (factory, rank) in REAL.items()}
    for case in CASE_NAMES:
        out[f"Conv2D_{case}"] = (layers.Conv2D(2, 3, kernel_parametrization=cases()[case]), 2, "real")
        out[f"Conv2DTranspose_{case}"] = (
            layers.Conv2DTranspose(2, 3, kernel_parametrization=cases()[case]), 2, "real"
        )
    out.update({name: (factory(), rank, "complex") for name, (factory, rank) in COMPLEX.items()})
    # A random phase: at phi = 0 the gradient of the real part, -x sin(phi), is 0.
    uniform = keras.initializers.RandomUniform(-1.0, 1.0, seed=0)
    out["PhaseModulation"] = (layers.PhaseModulation(phase_initializer=uniform), 2, "phase")
    return out


@pytest.fixture(scope="module", params=POLICIES)
def trained(request):
    """One model holding every layer (one program to compile on JAX instead of one per layer), trained under
    the policy until every layer's variables moved: `(policy, {name: (layer, before, after)})`."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(request.param)
    try:
        policy = keras.config.dtype_policy()
        entries = every_layer()
        ranks = sorted({rank for _, rank, _ in entries.values()})
        real_inputs = {r: keras.Input(spatial_input(r).shape[1:]) for r in ranks}
        imag_inputs = {r: keras.Input(spatial_input(r).shape[1:]) for r in ranks}
        outputs = []
        for layer, rank, kind in entries.values():
            x = real_inputs[rank]
            if kind == "real" and getattr(layer, "groups", 1) > 1:
                x = keras.layers.Concatenate()([x, x])
            if kind == "complex":
                outputs.append(layers.Intensity()(layer((x, imag_inputs[rank]))))
            elif kind == "phase":
                outputs.append(layer(x)[0])  # the intensity would not depend on the phase
            else:
                outputs.append(layer(x))
        model = keras.Model([*real_inputs.values(), *imag_inputs.values()], outputs)
        optimizer = keras.optimizers.SGD(0.01)
        if request.param == "mixed_float16":
            # What `compile` would wrap it in, with a smaller initial loss scale than 2^15 so that steps
            # are not skipped for overflowing float16 while the scale comes down.
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer, initial_scale=2.0**4)
        model.compile(optimizer, ["mse"] * len(outputs))
        data = [0.3 * spatial_input(r) for r in ranks] + [0.3 * spatial_input(r, seed=1) for r in ranks]
        targets = [np.zeros((2, *o.shape[1:]), "float32") for o in outputs]
        before = {name: [numpy(w) for w in e[0].trainable_weights] for name, e in entries.items()}

        def all_moved():
            return all(
                any(np.any(numpy(w) != old) for w, old in zip(layer.trainable_weights, before[name]))
                for name, (layer, _, _) in entries.items()
            )

        # The LossScaleOptimizer skips a step (and halves its scale) when scaled gradients overflow.
        losses = []
        for step in range(10):  # noqa: B007 (`step` is reported below)
            losses.append(model.train_on_batch(data, targets))
            if all_moved():
                break
        print(f"{request.param}: every layer moved after {step + 1} steps")
    finally:
        keras.config.set_dtype_policy(previous)
    assert np.all(np.isfinite(losses))
    return policy, {name: (layer, before[name]) for name, (layer, _, _) in entries.items()}


@pytest.mark.long
@pytest.mark.parametrize("name", tuple(every_layer()))
def test_training_step(trained, name):
    policy, entries = trained
    layer, before = entries[name]
    assert layer.compute_dtype == policy.compute_dtype
    after = [numpy(w) for w in layer.trainable_weights]
    assert any(np.any(new != old) for new, old in zip(after, before)), "the optimizer did not move it"
    for weight, value in zip(layer.trainable_weights, after):
        assert dtype_of(weight) == "float32", weight.path
        assert np.all(np.isfinite(value)), weight.path
    parametrization = getattr(layer, "kernel_parametrization", None)
    case = name.partition("_")[2]
    if name.startswith(("Conv2D_", "Conv2DTranspose_")) and case in CASE_NAMES:
        # The constraint holds on the float32 kernel after the step, as without mixed precision.
        assert check_invariant(case, numpy(layer.kernel)) == []
    if name.startswith("Complex") and parametrization is not None:  # UnitModulus, UnitNorm(axis=-1)
        real, imag = (numpy(part) for part in layer.kernel)
        np.testing.assert_allclose(np.hypot(real, imag), 1.0, atol=1e-6)
