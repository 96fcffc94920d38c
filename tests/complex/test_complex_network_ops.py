"""Complex activations, the complex matrix product and complex pooling: each against a NumPy complex128
reference written from its definition, on pairs and complex tensors, and float64 gradients of a real loss
w.r.t. the real and imaginary parts against central differences of the reference (Wirtinger-consistent:
the pair `(dL/d re, dL/d im)` is what finite differences along the real and the imaginary directions give).
"""

import itertools

import numpy as np
import pytest
import reference
from complex.complex_helpers import (
    as_complex_tensor,
    as_pair,
    random_complex,
    tensor,
    to_complex_numpy,
)
from conftest import autodiff_gradients, compiled
from keras import ops

from structconv import ops as sops

ACTIVATIONS = {
    "crelu": (sops.crelu, lambda z: np.maximum(z.real, 0) + 1j * np.maximum(z.imag, 0)),
    "zrelu": (sops.zrelu, lambda z: np.where((z.real >= 0) & (z.imag >= 0), z, 0)),
    "cardioid": (sops.cardioid, lambda z: 0.5 * (1 + np.cos(np.angle(z))) * z),
    "mod_relu": (lambda z: sops.mod_relu(z, BIAS),
                 lambda z: np.where(np.abs(z) + BIAS > 0, (np.abs(z) + BIAS) * z / np.abs(z), 0)),
}
BIAS = np.array([-0.5, 0.3, -1.2])  # one per channel: shifts moduli of about 1 across 0


def _points(seed, shape=(4, 5, 3)):
    """Random complex values away from the activations' kinks (the axes, and |z| = -bias)."""
    z = random_complex(np.random.default_rng(seed), shape)
    z = np.where(np.abs(z.real) < 0.05, z + 0.1, z)
    z = np.where(np.abs(z.imag) < 0.05, z + 0.1j, z)
    return np.where(np.abs(np.abs(z) + BIAS - 0) < 0.05, 1.2 * z, z)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_against_numpy(name):
    function, numpy_function = ACTIVATIONS[name]
    z = _points(0)
    expected = numpy_function(z)
    for field, tolerance in ((as_pair(z), 1e-12), (as_pair(z, "float32"), 1e-6),
                             (as_complex_tensor(z), 1e-6), (as_complex_tensor(z, "complex128"), 1e-12)):
        out = function(field)
        assert isinstance(out, tuple) == isinstance(field, tuple)
        np.testing.assert_allclose(to_complex_numpy(out), expected, rtol=0, atol=tolerance)
    # z = 0: 0 out, finite gradients
    zero = np.zeros((1, 2, 3))
    gradients = autodiff_gradients(
        lambda a, b: ops.sum(sops.intensity(function((a, b))) + function((a, b))[0]), zero, zero)
    assert all(np.all(np.isfinite(g)) for g in gradients)
    np.testing.assert_array_equal(to_complex_numpy(function(as_pair(zero))), 0)


def _check_gradients(function, reference_function, arrays, seed):
    """autodiff of `sum(u re + v im + w |y|^2)` against central differences of the NumPy reference."""
    y = reference_function(*arrays)
    rng = np.random.default_rng(seed)
    u, v, w = (rng.standard_normal(y.shape) for _ in range(3))

    def loss(*tensors):
        real, imag = function(*tensors)
        return ops.sum(tensor(u, "float64") * real + tensor(v, "float64") * imag
                       + tensor(w, "float64") * sops.intensity((real, imag)))

    def reference_loss(values):
        y = reference_function(*values)
        return float(np.sum(u * y.real + v * y.imag + w * np.abs(y) ** 2))

    for index, gradient in enumerate(autodiff_gradients(loss, *arrays)):
        def changed(value, index=index):
            return reference_loss([value if i == index else a for i, a in enumerate(arrays)])

        numeric = reference.numerical_gradient(changed, arrays[index], eps=1e-6)
        np.testing.assert_allclose(gradient, numeric, rtol=0, atol=1e-7 * max(np.abs(numeric).max(), 1.0),
                                   err_msg=f"operand {index}")


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradients(name):
    function, numpy_function = ACTIVATIONS[name]
    z = _points(1, (2, 3, 3))
    _check_gradients(lambda a, b: function((a, b)), lambda a, b: numpy_function(a + 1j * b), [z.real, z.imag],
                     2)


def test_mod_relu_gradient_wrt_bias():
    z = _points(3, (2, 3, 3))
    def numpy_mod_relu(a, b, bias):
        z = a + 1j * b
        return np.where(np.abs(z) + bias > 0, (np.abs(z) + bias) * np.exp(1j * np.angle(z)), 0)

    _check_gradients(lambda a, b, bias: sops.mod_relu((a, b), bias), numpy_mod_relu, [z.real, z.imag, BIAS],
                     4)


def test_complex_matmul():
    rng = np.random.default_rng(5)
    x, kernel = random_complex(rng, (2, 3, 4)), random_complex(rng, (4, 5))
    for form in ("pair", "complex128"):
        wrap = as_pair if form == "pair" else (lambda z: as_complex_tensor(z, "complex128"))
        np.testing.assert_allclose(to_complex_numpy(sops.complex_matmul(wrap(x), wrap(kernel))), x @ kernel,
                                   rtol=0, atol=1e-12 * np.abs(x @ kernel).max())
    _check_gradients(lambda a, b, c, d: sops.complex_matmul((a, b), (c, d)),
                     lambda a, b, c, d: (a + 1j * b) @ (c + 1j * d),
                     [x.real, x.imag, kernel.real, kernel.imag], 6)


def max_by_magnitude_reference(z, pool_size, strides, padding, data_format="channels_last"):
    """Loops over every window; "same" pads with zeros (Keras's output sizes)."""
    if data_format == "channels_first":
        z = np.moveaxis(z, 1, -1)
    pads = reference.padding_pairs(padding, z.shape[1:-1], pool_size, strides, 1)
    z = np.pad(z, [(0, 0), *pads, (0, 0)])
    outputs = [(n - k) // s + 1 for n, k, s in zip(z.shape[1:-1], pool_size, strides)]
    y = np.zeros((z.shape[0], *outputs, z.shape[-1]), np.complex128)
    for position in itertools.product(*(range(o) for o in outputs)):
        window = z[(slice(None), *(slice(o * s, o * s + k) for o, s, k in zip(position, strides, pool_size)))]
        flat = window.reshape(z.shape[0], -1, z.shape[-1])
        chosen = np.argmax(np.abs(flat), axis=1)
        y[(slice(None), *position)] = np.take_along_axis(flat, chosen[:, None], axis=1)[:, 0]
    return np.moveaxis(y, -1, 1) if data_format == "channels_first" else y


POOLS = [((2,), (2,), "valid"), ((3,), (2,), "same"), ((2, 2), (2, 2), "valid"), ((3, 2), (2, 1), "same"),
         ((2, 2, 2), (1, 2, 2), "valid")]


@pytest.mark.parametrize("pool_size, strides, padding", POOLS)
@pytest.mark.parametrize("data_format", ("channels_last", "channels_first"))
def test_max_pool_by_magnitude(pool_size, strides, padding, data_format):
    rank = len(pool_size)
    shape = (2, *[5] * rank, 3) if data_format == "channels_last" else (2, 3, *[5] * rank)
    z = random_complex(np.random.default_rng(rank), shape)
    expected = max_by_magnitude_reference(z, pool_size, strides, padding, data_format)
    for field in (as_pair(z), as_complex_tensor(z, "complex64")):
        out = compiled(lambda f: sops.complex_max_pool_by_magnitude(f, pool_size, strides, padding,
                                                                     data_format))(field)
        np.testing.assert_allclose(to_complex_numpy(out), expected, rtol=0, atol=1e-6 * np.abs(z).max())
    if rank == 2 and data_format == "channels_last":
        _check_gradients(lambda a, b: sops.complex_max_pool_by_magnitude((a, b), pool_size, strides, padding),
                         lambda a, b: max_by_magnitude_reference(a + 1j * b, pool_size, strides, padding),
                         [z.real, z.imag], 7)


def test_max_pool_selection_of_exported_graphs():
    """The comparison-only selection that exported graphs use (no argmax, no gather) picks the first entry
    of largest modulus, as `numpy.argmax`: ties come from moduli of few distinct values."""
    from structconv.ops.complex_pooling import _first_largest_by_mask

    rng = np.random.default_rng(11)
    z = rng.integers(-1, 2, (3, 4, 5, 6)) + 1j * rng.integers(-1, 2, (3, 4, 5, 6))
    chosen = np.argmax(np.abs(z), axis=-1)[..., None]
    expected = np.take_along_axis(z, chosen, axis=-1)[..., 0]
    parts = (ops.convert_to_tensor(part.astype("float32")) for part in (z.real, z.imag))
    out = _first_largest_by_mask(*parts)
    np.testing.assert_array_equal(to_complex_numpy(out), expected)


def average_pool_reference(z, pool_size, strides, padding):
    """Each window's mean over the entries inside the input (TensorFlow's and Keras's "same" rule)."""
    pads = reference.padding_pairs(padding, z.shape[1:-1], pool_size, strides, 1)
    inside = np.pad(np.ones(z.shape[1:-1]), pads)
    z = np.pad(z, [(0, 0), *pads, (0, 0)])
    outputs = [(n - k) // s + 1 for n, k, s in zip(z.shape[1:-1], pool_size, strides)]
    y = np.zeros((z.shape[0], *outputs, z.shape[-1]), np.complex128)
    for position in itertools.product(*(range(o) for o in outputs)):
        window = tuple(slice(o * s, o * s + k) for o, s, k in zip(position, strides, pool_size))
        total = z[(slice(None), *window)].sum(axis=tuple(range(1, len(pool_size) + 1)))
        y[(slice(None), *position)] = total / inside[window].sum()
    return y


@pytest.mark.parametrize("padding", ("valid", "same"))
@pytest.mark.parametrize("pool_size, strides", [((2,), (2,)), ((2, 3), (1, 2)), ((2, 2, 2), (2, 2, 2))])
def test_average_pool(pool_size, strides, padding):
    """(Keras's own AveragePooling2D on torch disagrees with this rule at an uneven "same" border; on
    TensorFlow and JAX it agrees.)"""
    rank = len(pool_size)
    z = random_complex(np.random.default_rng(8), (2, *[6] * rank, 2))
    expected = average_pool_reference(z, pool_size, strides, padding)
    for field, tolerance in ((as_pair(z), 1e-12), (as_complex_tensor(z), 1e-6)):
        out = sops.complex_average_pool(field, pool_size, strides, padding)
        np.testing.assert_allclose(to_complex_numpy(out), expected, rtol=0, atol=tolerance)
    if rank == 2:
        _check_gradients(lambda a, b: sops.complex_average_pool((a, b), pool_size, strides, padding),
                         lambda a, b: average_pool_reference(a + 1j * b, pool_size, strides, padding),
                         [z.real, z.imag], 9)
