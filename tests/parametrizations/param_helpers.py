"""Helpers for the parametrization tests: the cases, NumPy references of each constraint, backend autodiff
and central finite differences.

Everything that serves as a reference here is plain NumPy, written from the constraint's definition and not
from the library's code.
"""

import keras
import numpy as np
from conftest import torch_device

from structconv import parametrizations as P

# float32 machine epsilon: "to float32 rounding" below means a small multiple of it, scaled by magnitude.
F32 = float(np.finfo(np.float32).eps)

# The kernel of `Conv2D(2, 3)` on 2 input channels: (rows, cols, in_channels, filters).
KERNEL_SHAPE = (3, 3, 2, 2)

# (in_channels, filters) mask: the kernel from input channel 0 to filter 1 is not connected.
MASK_IN_OUT = np.array([[1, 0], [1, 1]], "int8")
# A full-kernel-shape mask with single taps zeroed, and at least one free tap per (in, out) pair.
MASK_FULL = (np.random.default_rng(7).random(KERNEL_SHAPE) > 0.35).astype("int8")
MASK_FULL[1, 1] = 1


def cases():
    """name -> a fresh parametrization (or list), one per constraint the issue names."""
    return {
        "zero_sum": P.ZeroSum(),
        "fixed_sum": P.FixedSum(1.0),
        "bayar": [P.FixedTaps({"center": -1.0}), P.ZeroSum()],
        "unit_norm": P.UnitNorm(),
        "unit_norm_joint": P.UnitNorm(axis=-1),
        "non_neg": P.NonNeg(),
        "mask_in_out": P.Mask(MASK_IN_OUT),
        "mask_full": P.Mask(MASK_FULL),
        "symmetric": P.Symmetric((0, 1)),
        "zero_sum_unit_norm": P.Compose([P.ZeroSum(), P.UnitNorm()]),
    }


CASE_NAMES = tuple(cases())


def build(name, shape=KERNEL_SHAPE):
    """The case `name`, built for `shape`."""
    return P.get(cases()[name]).build(shape)


# --- NumPy definitions of each constraint ------------------------------------------------------------------


def _spatial(kernel):
    return tuple(range(kernel.ndim - 2))


def _mask_full(mask, shape):
    return np.broadcast_to(np.asarray(mask, bool), shape)


def _center(shape):
    return tuple(k // 2 for k in shape[:-2])


def violations(name, kernel, free=None):
    """The residuals of case `name`'s constraint on `kernel` (NumPy), each with the scale that float32
    rounding of the computation is relative to: a list of (what, residual, scale, exact)."""
    k = np.asarray(kernel, np.float64)
    spatial = _spatial(k)
    # Rounding in the forward pass is relative to the free variable too (a sum subtracts its mean).
    free_scale = 0.0 if free is None or np.shape(free) != k.shape else float(np.abs(free).max())
    out = []

    def sums(total, entries):
        s = (k * entries).sum(axis=spatial) if entries is not None else k.sum(axis=spatial)
        scale = np.abs(k).sum(axis=spatial) + free_scale * k[..., 0, 0].size + 1.0
        out.append(("sum", np.abs(s - total), scale, False))

    def norms(axes):
        n = np.sqrt((k**2).sum(axis=axes))
        out.append(("norm", np.abs(n - 1.0), np.ones_like(n), False))

    if name == "zero_sum":
        sums(0.0, None)
    elif name == "fixed_sum":
        sums(1.0, None)
    elif name == "bayar":
        centre = k[_center(k.shape)]
        out.append(("centre == -1", np.abs(centre + 1.0), np.ones_like(centre), True))
        others = np.ones(k.shape[:-2], bool)
        others[_center(k.shape)] = False
        sums(1.0, others[..., None, None])
    elif name == "unit_norm":
        norms(tuple(range(k.ndim - 1)))
    elif name == "unit_norm_joint":
        norms((k.ndim - 1,))  # sqrt(C^2 + D^2) at every tap and input channel
    elif name == "non_neg":
        out.append((">= 0", np.maximum(-k, 0.0), np.ones_like(k), True))
    elif name in ("mask_in_out", "mask_full"):
        mask = MASK_IN_OUT if name == "mask_in_out" else MASK_FULL
        masked = ~_mask_full(mask, k.shape)
        out.append(("masked == 0", np.abs(k[masked]), np.ones(masked.sum()), True))
    elif name == "symmetric":
        for axis in spatial:
            d = np.abs(k - np.flip(k, axis))
            out.append((f"mirror {axis}", d, np.abs(k) + 1e-30, False))
    elif name == "zero_sum_unit_norm":
        sums(0.0, None)
        norms(tuple(range(k.ndim - 1)))
    else:
        raise KeyError(name)
    return out


def check_invariant(name, kernel, free=None, ulps=16):
    """Messages for each part of case `name`'s constraint that `kernel` breaks by more than float32
    rounding (`ulps` epsilons of the relevant scale); exact parts must hold exactly."""
    problems = []
    for what, residual, scale, exact in violations(name, kernel, free):
        limit = 0.0 if exact else ulps * F32 * np.asarray(scale)
        bad = np.asarray(residual) > limit
        if np.any(bad):
            problems.append(
                f"{name}: {what} broken by {float(np.max(residual)):.3g} (limit {np.max(limit):.3g})"
            )
    return problems


def reference_forward(name, free, shape=KERNEL_SHAPE):
    """NumPy float64 kernel of case `name` from its free variable, from the constraint's definition."""
    f = np.asarray(free, np.float64)
    spatial = tuple(range(len(shape) - 2))
    if name == "zero_sum":
        return f - f.mean(axis=spatial, keepdims=True)
    if name == "fixed_sum":
        n = np.prod([shape[a] for a in spatial])
        return f + (1.0 - f.sum(axis=spatial, keepdims=True)) / n
    if name == "bayar":
        k = f.copy()
        c = _center(shape)
        k[c] = -1.0
        others = np.ones(shape[:-2], bool)
        others[c] = False
        others = np.broadcast_to(others[..., None, None], shape)
        deficit = 1.0 - (k * others).sum(axis=spatial, keepdims=True)
        return k + others * deficit / others.sum(axis=spatial, keepdims=True)
    if name == "unit_norm":
        return f / np.sqrt((f**2).sum(axis=tuple(range(len(shape) - 1)), keepdims=True))
    if name == "unit_norm_joint":
        return f / np.sqrt((f**2).sum(axis=-1, keepdims=True))
    if name == "non_neg":
        return np.abs(f)
    if name in ("mask_in_out", "mask_full"):
        mask = _mask_full(MASK_IN_OUT if name == "mask_in_out" else MASK_FULL, shape)
        k = np.zeros(shape)
        k[mask] = f  # row-major order of the free entries
        return k
    if name == "symmetric":
        k = f
        for axis in spatial:
            k = 0.5 * (k + np.flip(k, axis))
        return k
    if name == "zero_sum_unit_norm":
        k = f - f.mean(axis=spatial, keepdims=True)
        return k / np.sqrt((k**2).sum(axis=tuple(range(len(shape) - 1)), keepdims=True))
    raise KeyError(name)


def reference_project(name, kernel):
    """NumPy closed form of the nearest kernel that satisfies case `name` (Euclidean projection)."""
    k = np.asarray(kernel, np.float64)
    if name in ("mask_in_out", "mask_full"):
        mask = _mask_full(MASK_IN_OUT if name == "mask_in_out" else MASK_FULL, k.shape)
        return np.where(mask, k, 0.0)
    if name == "non_neg":
        return np.maximum(k, 0.0)
    # For the rest the nearest point has the same formula as the forward map from a full-shape variable.
    return reference_forward(name, k, k.shape)


def random_free(name, rng, shape=KERNEL_SHAPE):
    """A free variable of case `name`, away from the kinks (|.| at 0) of the forward map."""
    p = build(name, shape)
    values = rng.standard_normal(p.free_shape)
    if name == "non_neg":
        values = np.sign(values) * (0.3 + np.abs(values))
    return values


# --- tensors, autodiff and finite differences -----------------------------------------------------------


def to_numpy(x):
    if isinstance(x, keras.Variable):
        x = x.value
    return np.asarray(keras.ops.convert_to_numpy(x))


def f64(array):
    return keras.ops.convert_to_tensor(np.asarray(array, np.float64), dtype="float64")


def f32(array):
    return keras.ops.convert_to_tensor(np.asarray(array, np.float32), dtype="float32")


def backend_grad(fn, x):
    """d fn / d x at the NumPy array `x` (float64) with the active backend's own autodiff."""
    backend = keras.backend.backend()
    x = np.asarray(x, np.float64)
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        return np.asarray(jax.grad(fn)(jnp.asarray(x)))
    if backend == "tensorflow":
        import tensorflow as tf

        variable = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(variable)
            loss = fn(variable)
        # a gather (`Mask`) gives `IndexedSlices`
        return tf.convert_to_tensor(tape.gradient(loss, variable)).numpy()
    if backend == "torch":
        import torch

        variable = torch.tensor(x, device=torch_device(), requires_grad=True)
        fn(variable).backward()
        return variable.grad.detach().cpu().numpy()
    raise NotImplementedError(backend)


def finite_differences(fn, x, eps=1e-6):
    """Central finite differences of the scalar `fn` at `x` (float64), one coordinate at a time."""
    x = np.asarray(x, np.float64)
    grad = np.zeros(x.size)
    for i in range(x.size):
        step = np.zeros(x.size)
        step[i] = eps
        step = step.reshape(x.shape)
        grad[i] = (float(to_numpy(fn(x + step))) - float(to_numpy(fn(x - step)))) / (2 * eps)
    return grad.reshape(x.shape)


def assert_close(actual, expected, rtol=1e-5, what=""):
    """`actual` equals `expected` to `rtol` relative to the largest expected magnitude (at least 1)."""
    actual, expected = np.asarray(to_numpy(actual), np.float64), np.asarray(to_numpy(expected), np.float64)
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1.0)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=what)


def walk_layers(layers):
    """Every layer, and the layers nested in `Sequential`/`Model` layers, recursively."""
    for layer in layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from walk_layers(layer.layers)
