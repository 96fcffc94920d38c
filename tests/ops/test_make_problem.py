"""The problem of an eager call is built once per shapes, dtype, arguments and gradient flag, so that a
loop of eager `ops.conv` calls runs no planning Python after its first (the checks too: `checked_padding`),
and a call that differs in any of them gets its own problem."""

import keras
import numpy as np
import reference
from conftest import assert_close, tensor

from structconv import ops as sops
from structconv.ops.arguments import conv_arguments
from structconv.ops.conv import prepare_conv

rng = np.random.default_rng(0)


def _args(rank, **kwargs):
    return conv_arguments(rank, default_data_format="channels_last", **kwargs)


def test_a_repeated_call_reuses_its_problem_and_plan():
    x, k = tensor(rng.standard_normal((2, 9, 3))), tensor(rng.standard_normal((3, 3, 4)))
    first = prepare_conv(x, k, _args(1, padding="same"))
    again = prepare_conv(tensor(rng.standard_normal((2, 9, 3))), k, _args(1, padding="same"))
    assert again[0] is first[0] and again[1] == first[1]


def test_a_call_that_differs_gets_its_own_problem():
    x, k = rng.standard_normal((2, 9, 3)), rng.standard_normal((3, 3, 4))
    base, _ = prepare_conv(tensor(x), tensor(k), _args(1, padding="same"))
    longer, _ = prepare_conv(tensor(rng.standard_normal((2, 10, 3))), tensor(k), _args(1, padding="same"))
    wider, _ = prepare_conv(tensor(x, "float64"), tensor(k, "float64"), _args(1, padding="same"))
    strided, _ = prepare_conv(tensor(x), tensor(k), _args(1, padding="same", strides=2))
    training, _ = prepare_conv(tensor(x), tensor(k), _args(1, padding="same"), training=True)
    assert (longer.spatial, wider.dtype, strided.strides, training.training) == ((10,), "float64", (2,), True)
    assert (base.spatial, base.dtype, base.strides, base.training) == ((9,), "float32", (1,), False)
    assert base.padding == tuple(reference.padding_pairs("same", (9,), (3,), (1,), (1,)))
    assert strided.padding == tuple(reference.padding_pairs("same", (9,), (3,), (2,), (1,)))


def test_repeated_eager_calls_match_the_reference():
    """The cached checks and problem change nothing in what runs: each call against NumPy's reference."""
    k = rng.standard_normal((3, 3, 2, 4)).astype("float32")
    for size in (7, 8, 7):
        x = rng.standard_normal((2, size, 6, 2)).astype("float32")
        y = sops.conv(tensor(x), tensor(k), padding="same", strides=2)
        pads = reference.padding_pairs("same", x.shape[1:-1], k.shape[:2], (2, 2), (1, 1))
        assert_close(y, reference.conv_reference(x, k, (2, 2), pads, (1, 1)))
    assert keras.backend.standardize_dtype(y.dtype) == "float32"
