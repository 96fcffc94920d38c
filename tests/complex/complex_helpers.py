"""Helpers of the complex-convolution tests: an independent complex128 NumPy reference, conversions
between NumPy complex arrays and the library's two forms (complex tensors, `(real, imag)` pairs), and
backend autodiff.

The reference resolves padding with `tests/reference.py` (`padding_pairs`) but convolves on its own: a
direct loop over kernel taps in complex128 arithmetic, with no real/imaginary bookkeeping at all.
"""

import itertools

import keras
import numpy as np
import reference
from conftest import compiled  # noqa: F401 (the complex tests import it from here)

BACKEND = keras.backend.backend()
_NP_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def complex_conv_reference(x, kernel, strides=1, padding="valid", dilation=1, groups=1, padding_mode="zeros",
                           data_format="channels_last"):
    """Complex cross-correlation (no conjugate) in complex128: `y[o] = sum_t x[o * s + t * d] @ kernel[t]`."""
    x = np.asarray(x, np.complex128)
    kernel = np.asarray(kernel, np.complex128)
    if data_format == "channels_first":
        x = np.moveaxis(x, 1, -1)
    rank = x.ndim - 2
    kernel_size = kernel.shape[:rank]
    strides, dilation = reference.expand(strides, rank), reference.expand(dilation, rank)
    pads = reference.padding_pairs(padding, x.shape[1:-1], kernel_size, strides, dilation)
    x = np.pad(x, [(0, 0), *pads, (0, 0)], mode=_NP_PAD_MODES[padding_mode])
    outputs = [(n - (k - 1) * d - 1) // s + 1 for n, k, s, d in zip(x.shape[1:-1], kernel_size, strides,
                                                                      dilation)]
    channels, filters = x.shape[-1], kernel.shape[-1]
    in_group, out_group = channels // groups, filters // groups
    y = np.zeros((x.shape[0], *outputs, filters), np.complex128)
    for position in itertools.product(*(range(o) for o in outputs)):
        for taps in itertools.product(*(range(k) for k in kernel_size)):
            source = tuple(o * s + t * d for o, t, s, d in zip(position, taps, strides, dilation))
            sample = x[(slice(None), *source)]  # (batch, channels)
            for g in range(groups):
                y[(slice(None), *position, slice(g * out_group, (g + 1) * out_group))] += (
                    sample[:, g * in_group : (g + 1) * in_group]
                    @ kernel[taps][:, g * out_group : (g + 1) * out_group]
                )
    return np.moveaxis(y, -1, 1) if data_format == "channels_first" else y


def random_complex(rng, shape, imag_scale=1.0):
    return rng.standard_normal(shape) + 1j * imag_scale * rng.standard_normal(shape)


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def tensor(array, dtype="float32"):
    """A backend tensor of `dtype` (NumPy float64 / complex128 would otherwise be narrowed)."""
    return keras.ops.convert_to_tensor(np.asarray(array), dtype=dtype)


def as_pair(z, dtype="float64"):
    """A NumPy complex array as a `(real, imag)` pair of backend tensors."""
    z = np.asarray(z)
    return tensor(z.real, dtype), tensor(z.imag, dtype)


def as_complex_tensor(z, dtype="complex64"):
    return tensor(np.asarray(z), dtype)


def dtype_name(x):
    return keras.backend.standardize_dtype(x.dtype)


def to_complex_numpy(output):
    """A pair or a complex tensor as one NumPy complex128 array."""
    if isinstance(output, (tuple, list)):
        real, imag = output
        return to_numpy(real).astype(np.float64) + 1j * to_numpy(imag).astype(np.float64)
    return to_numpy(output).astype(np.complex128)


def relative_error(actual, expected):
    """max |actual - expected| / max |expected|, on real arrays."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def part_errors(actual, expected):
    """(error of the real part, error of the imaginary part), each relative to that part's largest value."""
    actual, expected = to_complex_numpy(actual), np.asarray(expected)
    return relative_error(actual.real, expected.real), relative_error(actual.imag, expected.imag)


def story_one_model(parametrization, image_shape=(8, 8, 1), filters=4, kernel_size=3, classes=10, name=None):
    """User story 1: PhaseModulation -> ComplexConv2D (phase-only) -> Intensity -> pooling -> softmax."""
    from structconv import layers

    inputs = keras.Input(image_shape)
    field = layers.PhaseModulation(phase_initializer=keras.initializers.RandomUniform(-1.0, 1.0, seed=1),
                                   name="slm")(inputs)
    field = layers.ComplexConv2D(filters, kernel_size, padding="same", kernel_parametrization=parametrization,
                                 use_bias=False, name="lens")(field)
    intensity = layers.Intensity(name="detector")(field)
    pooled = keras.layers.AveragePooling2D(2)(intensity)
    outputs = keras.layers.Dense(classes, activation="softmax")(keras.layers.Flatten()(pooled))
    return keras.Model(inputs, outputs, name=name)


def digits(count=320):
    """The first `count` sklearn digits as (images (count, 8, 8, 1) float32 in [0, 1], labels)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = (data.images[:count] / 16.0).astype("float32")[..., None]
    return images, data.target[:count].astype("int32")


_JITTED = {}


def call_layer(layer, *inputs):
    """`layer(x)` for each of `inputs` (one output, or a list for several); on JAX all of them in one
    `jax.jit` of `stateless_call`, which compiles the layer once instead of every primitive op for each new
    shape (several times faster for these small tests). Tests that call layers directly cover the eager
    path."""
    if BACKEND != "jax":
        outputs = [layer(x) for x in inputs]
    else:
        if id(layer) not in _JITTED:
            import jax

            def forward(trainable, non_trainable, inputs):
                return [layer.stateless_call(trainable, non_trainable, x)[0] for x in inputs]

            _JITTED[id(layer)] = (layer, jax.jit(forward))  # the layer is kept alive with its id
        outputs = _JITTED[id(layer)][1](
            [v.value for v in layer.trainable_variables], [v.value for v in layer.non_trainable_variables],
            list(inputs),
        )
    return outputs[0] if len(outputs) == 1 else outputs
