"""The backend tier's `slice_window` (`x[index]` for Python slices; `tf.slice` on TensorFlow where every
step is 1, whose gradient is a pad) against NumPy's indexing, forward and gradient, and `ops.padding`'s
`slice_axis` on top of it; `slice_windows`, several windows of one tensor whose gradients add up."""

import keras
import numpy as np
import pytest

from structconv._backend import get_backend
from structconv.ops.padding import slice_axis
from tests.conftest import assert_close, autodiff_gradients, tensor, to_numpy

SHAPE = (2, 5, 4, 3)
INDICES = [
    (slice(None),),
    (slice(None), slice(1, 4)),
    (slice(None), slice(0, 5), slice(2, None), slice(1, 2)),
    (slice(1, 2), slice(None), slice(None), slice(0, 3)),
    (slice(None), slice(1, 5, 2)),  # a step
    (slice(None), slice(0, 5, 2), slice(1, 4, 3), slice(0, 3, 2)),  # steps on several axes
    (slice(None), slice(1, None, 3), slice(None, None, 2)),  # open ends with steps
    (slice(None), slice(0, 4, 2)),  # a step that ends one entry short of a whole group
    (slice(None), slice(2, 2, 2)),  # empty, with a step
    (slice(None), slice(2, 9)),  # past the end: clipped as NumPy clips
    (slice(None), slice(5, 5)),  # empty
    (slice(None), slice(-3, -1)),  # from the end
    (slice(None), slice(3, 1)),  # stop before start: empty
]
# The indices that select something (a gradient to scatter).
WINDOWS = [i for i in INDICES if np.zeros(SHAPE)[i].size]


@pytest.mark.parametrize("index", INDICES, ids=str)
def test_slice_window_equals_numpy_indexing(index):
    x = np.random.default_rng(0).standard_normal(SHAPE).astype("float32")
    assert_close(get_backend().slice_window(tensor(x), index), x[index])


@pytest.mark.parametrize("index", WINDOWS, ids=str)
def test_slice_window_gradient_scatters_into_the_window(index):
    rng = np.random.default_rng(1)
    x, weights = rng.standard_normal(SHAPE), rng.standard_normal(np.zeros(SHAPE)[index].shape)

    def loss(a):
        return keras.ops.sum(get_backend().slice_window(a, index) * tensor(weights, "float64"))

    expected = np.zeros(SHAPE)
    expected[index] = weights
    (gradient,) = autodiff_gradients(loss, x)
    np.testing.assert_allclose(gradient, expected, rtol=1e-12, atol=1e-12)


def test_slice_axis_takes_one_axis():
    x = np.arange(np.prod(SHAPE), dtype="float32").reshape(SHAPE)
    assert_close(slice_axis(tensor(x), 2, 1, 3), x[:, :, 1:3])
    assert_close(slice_axis(tensor(x), 1, 0, 5, 2), x[:, 0:5:2])


def test_slice_window_with_an_unknown_batch_in_a_traced_function(backend):
    """TensorFlow traces with unknown sizes (`predict` on a new batch size): the batch's full slice needs
    no size, steps on known axes regroup them around it, and a slice of an axis of unknown size falls back
    to strided slicing."""
    if backend != "tensorflow":
        pytest.skip("only TensorFlow traces with unknown sizes")
    import tensorflow as tf

    x = np.random.default_rng(2).standard_normal(SHAPE).astype("float32")
    window = get_backend().slice_window
    indices = [(slice(None), slice(1, 4)), (slice(0, 1),), (slice(None), slice(0, 5, 2), slice(1, None, 2)),
               (slice(None, None, 2),)]
    traced = tf.function(lambda a: [window(a, index) for index in indices],
                         input_signature=[tf.TensorSpec((None, *SHAPE[1:]), tf.float32)])
    for index, found in zip(indices, traced(tf.constant(x))):
        np.testing.assert_array_equal(to_numpy(found), x[index])


def test_slice_windows_equal_numpy_indexing():
    x = np.random.default_rng(3).standard_normal(SHAPE).astype("float32")
    found = get_backend().slice_windows(tensor(x), WINDOWS)
    assert len(found) == len(WINDOWS)
    for window, index in zip(found, WINDOWS):
        assert_close(window, x[index])


def test_slice_windows_gradient_sums_the_overlapping_windows():
    """Overlapping windows of one tensor, one of them not used by the loss (torch gathers the windows'
    gradients in one buffer, where an unused window has none)."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal(SHAPE)
    used = WINDOWS[:-1]
    weights = [rng.standard_normal(np.zeros(SHAPE)[index].shape) for index in used]

    def loss(a):
        windows = get_backend().slice_windows(a, WINDOWS)
        return sum(keras.ops.sum(w * tensor(v, "float64")) for w, v in zip(windows, weights))

    expected = np.zeros(SHAPE)
    for index, v in zip(used, weights):
        expected[index] += v
    (gradient,) = autodiff_gradients(loss, x)
    np.testing.assert_allclose(gradient, expected, rtol=1e-12, atol=1e-12)


def test_slice_windows_of_a_tensor_without_gradient():
    x = tensor(np.arange(np.prod(SHAPE), dtype="float32").reshape(SHAPE))
    found = get_backend().slice_windows(x, WINDOWS[:2])
    for window, index in zip(found, WINDOWS[:2]):
        assert_close(window, to_numpy(x)[index])


def test_slice_windows_second_order_gradient(backend):
    """A gradient of the gradient (a gradient penalty) through torch's gathered windows, against NumPy:
    for `y = sum_t sum(w_t ** 3)`, `g = sum_t scatter_t(3 w_t ** 2)` and the gradient of `sum(g ** 2)` is
    `sum_t scatter_t(12 g[t] w_t)`."""
    if backend != "torch":
        pytest.skip("JAX and TensorFlow return plain slices; torch's windows have their own backward")
    import torch

    x = np.random.default_rng(5).standard_normal(SHAPE)
    windows = [(slice(None), slice(t, t + 3), slice(u, u + 3, 2)) for t in range(3) for u in range(2)]
    first = np.zeros(SHAPE)
    for index in windows:
        first[index] += 3 * x[index] ** 2
    second = np.zeros(SHAPE)
    for index in windows:
        second[index] += 12 * first[index] * x[index]
    a = torch.tensor(x, requires_grad=True)
    y = sum((w**3).sum() for w in get_backend().slice_windows(a, windows))
    (g,) = torch.autograd.grad(y, a, create_graph=True)
    (gg,) = torch.autograd.grad((g**2).sum(), a)
    np.testing.assert_allclose(g.detach().numpy(), first, rtol=1e-12)
    np.testing.assert_allclose(gg.numpy(), second, rtol=1e-12)
