"""Eager calls of the ops run as one compiled program per plan where the backend stages them (`staged` of
the backend tier: JAX's `jit`, TensorFlow's `tf.function`), with the results of running them op by op."""

import keras
import numpy as np
import pytest
import reference
from conftest import assert_close, compiled, tensor

from structconv import ops as sops
from structconv._backend import get_backend

BACKEND = keras.backend.backend()
BACKEND_COMPILE = "/jax/core/compile/backend_compile_duration"  # jax.monitoring's event per compiled program


def _scaled_sum(scale, axis, x):
    return keras.ops.sum(x, axis=axis) * scale


def test_staged_passes_the_static_arguments_first():
    x = np.arange(6.0, dtype="float32").reshape(2, 3)
    assert_close(get_backend().staged(_scaled_sum, (2.0, 1), tensor(x)), 2.0 * x.sum(axis=1))
    assert_close(get_backend().staged(_scaled_sum, (3.0, 0), tensor(x)), 3.0 * x.sum(axis=0))


def test_an_eager_staged_call_traces_once_per_input_signature():
    """JAX and TensorFlow run the function's Python once per static arguments and input shapes (to trace
    it), torch on every call."""
    traced = []

    def counted(scale, x):
        traced.append(tuple(x.shape))
        return x * scale

    x = np.arange(6.0, dtype="float32").reshape(2, 3)
    for _ in range(3):
        assert_close(get_backend().staged(counted, (2.0,), tensor(x)), 2.0 * x)
    assert_close(get_backend().staged(counted, (2.0,), tensor(x[:1])), 2.0 * x[:1])
    assert len(traced) == (4 if BACKEND == "torch" else 2)


@pytest.fixture
def staged_calls(monkeypatch):
    """`(function name, static arguments)` of each call of the backend's `staged`, which still runs."""
    backend, calls = get_backend(), []
    real = backend.staged

    def spy(function, static, *tensors):
        calls.append((function.__name__, static))
        return real(function, static, *tensors)

    monkeypatch.setattr(backend, "staged", spy)
    return calls


@pytest.mark.parametrize(("algorithm", "padding_mode"),
                         [("direct", "zeros"), ("direct", "reflect"), ("fft", "zeros")])
def test_every_eager_plan_runs_staged_once(staged_calls, algorithm, padding_mode):
    """An eager call runs its plan in the backend's staged form (one program), the form measured planning
    times it in, whether the plan is one call of the backend's convolution or many ops."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 9, 3)).astype("float32")
    k = rng.standard_normal((3, 3, 4)).astype("float32")
    y = sops.conv(tensor(x), tensor(k), padding=1, padding_mode=padding_mode, algorithm=algorithm)
    assert_close(y, reference.conv_reference(x, k, (1,), [(1, 1)], (1,), padding_mode=padding_mode))
    assert len(staged_calls) == 1 and staged_calls[0][1][0].label.startswith(algorithm)


def test_an_eager_transposed_convolution_runs_with_its_crop_as_one_staged_program(staged_calls):
    """The full transposed convolution and its crop are one program: eager TensorFlow had cropped op by op
    outside it, doubling a small call (2-D 16^2, stride 2, k=3: 892-958 us, staged 408)."""
    rng = np.random.default_rng(0)
    y = rng.standard_normal((2, 5, 4, 3)).astype("float32")
    k = rng.standard_normal((3, 2, 2, 3)).astype("float32")
    for algorithm in ("direct", "fft"):
        for _ in range(2):
            staged_calls.clear()
            out = sops.conv_transpose(tensor(y), tensor(k), strides=2, padding="same", algorithm=algorithm)
        # The second call: one outer program; torch's `staged` is a plain call, which runs the inner one.
        assert staged_calls[0][0] == "full_then_cropped"
        assert len(staged_calls) == (2 if BACKEND == "torch" else 1)
        assert_close(out, reference.conv_transpose_reference(y, k, (2, 2), "same"))


@pytest.mark.parametrize(("groups", "data_format"), [(1, "channels_last"), (2, "channels_first")])
def test_an_eager_complex_convolution_runs_as_one_staged_program(staged_calls, groups, data_format):
    """The block method's doubled pair is built, convolved and split in one program: eager JAX and
    TensorFlow had run each of those ops apart (a 1-D 64-sample k=3 4 -> 4 call: 276 and 581 us, now 49 and
    199, against 21 and 140 for its real convolution; 2-vCPU Intel Xeon, session 44)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((2, 9, 4)).astype("float32") for _ in range(2))
    c, d = (rng.standard_normal((3, 4 // groups, 6)).astype("float32") for _ in range(2))
    moved = (lambda t: np.moveaxis(t, -1, 1)) if data_format == "channels_first" else (lambda t: t)
    for _ in range(2):
        staged_calls.clear()
        inputs, kernel = (tensor(moved(a)), tensor(moved(b))), (tensor(c), tensor(d))
        real, imag = sops.complex_conv(inputs, kernel, padding=1, groups=groups, data_format=data_format,
                                       method="block")
    # The second call: one outer program; torch's `staged` is a plain call, which runs the inner one.
    assert staged_calls[0][0] == "_block_conv"
    assert len(staged_calls) == (2 if BACKEND == "torch" else 1)

    def conv(x, k):
        return reference.conv_reference(x, k, (1,), [(1, 1)], (1,), groups=groups)

    assert_close(real, moved(conv(a, c) - conv(b, d)))
    assert_close(imag, moved(conv(a, d) + conv(b, c)))


def test_an_eager_complex_transposed_convolution_runs_as_one_staged_program(staged_calls):
    """As the complex convolution: the doubled pair built, transposed, cropped and split in one program."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((2, 5, 4, 3)).astype("float32") for _ in range(2))
    c, d = (rng.standard_normal((3, 2, 2, 3)).astype("float32") for _ in range(2))
    for _ in range(2):
        staged_calls.clear()
        real, imag = sops.complex_conv_transpose((tensor(a), tensor(b)), (tensor(c), tensor(d)), strides=2,
                                                 padding="same", method="block")
    assert staged_calls[0][0] == "_block_transpose"
    assert len(staged_calls) == (2 if BACKEND == "torch" else 1)

    def transpose(y, k):
        return reference.conv_transpose_reference(y, k, (2, 2), "same")

    assert_close(real, transpose(a, c) - transpose(b, d))
    assert_close(imag, transpose(a, d) + transpose(b, c))


def test_staged_inside_a_compiled_function():
    x = np.arange(6.0, dtype="float32").reshape(2, 3)
    staged = compiled(lambda t: get_backend().staged(_scaled_sum, (3.0, 0), t))
    assert_close(staged(tensor(x)), 3.0 * x.sum(axis=0))


@pytest.mark.skipif(BACKEND != "jax", reason="only JAX compiles an eager call's primitives for new shapes")
@pytest.mark.parametrize("algorithm", ["fft", "direct"])
def test_an_eager_rank4_convolution_compiles_one_program(algorithm):
    """Op by op, the first call of an FFT convolution compiled 28-38 programs (1.1-2.5 s on a 2-core VM) and
    a direct rank-4 one (decomposed onto rank 2) 23; a second call of the same shapes compiles none."""
    import jax.monitoring

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 6, 5, 4, 3)).astype("float32")
    k = rng.standard_normal((3, 2, 3, 2, 3, 2)).astype("float32")
    x_t, k_t = tensor(x), tensor(k)
    compiles = []

    def listener(event, duration, **kwargs):
        if event == BACKEND_COMPILE:
            compiles.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        y = sops.conv(x_t, k_t, padding="same", algorithm=algorithm)
        first = len(compiles)
        sops.conv(x_t, k_t, padding="same", algorithm=algorithm)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert (first, len(compiles)) == (1, 1)
    pads = reference.padding_pairs("same", x.shape[1:-1], k.shape[:4], (1,) * 4, (1,) * 4)
    assert_close(y, reference.conv_reference(x, k, (1,) * 4, pads, (1,) * 4))


@pytest.mark.skipif(BACKEND != "tensorflow", reason="AutoGraph is TensorFlow's")
def test_autograph_leaves_structconv_to_python_as_it_does_keras():
    """A user's `tf.function` (AutoGraph on, its default) around `ops.conv` had AutoGraph rewrite all of
    structconv's Python on the first trace: 8.7 s against 0.05 s (2-vCPU AMD EPYC)."""
    import tensorflow as tf
    from tensorflow.python.autograph.impl import conversion

    assert conversion.is_allowlisted(keras.ops.conv)
    assert conversion.is_allowlisted(sops.conv)
    x = np.random.default_rng(0).standard_normal((2, 9, 3)).astype("float32")
    k = np.random.default_rng(1).standard_normal((3, 3, 4)).astype("float32")
    converted = tf.function(lambda x, k: sops.conv(x, k, padding="same", algorithm="fft"))
    pads = reference.padding_pairs("same", x.shape[1:-1], k.shape[:1], (1,), (1,))
    assert_close(converted(tensor(x), tensor(k)), reference.conv_reference(x, k, (1,), pads, (1,)))
