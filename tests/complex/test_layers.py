"""`ComplexConvND` and its aliases as layers: forms in and out, the complex bias, the real variables,
shapes, and what the layer carries into the op (method, groups, data format, parametrizations)."""

import keras
import numpy as np
import pytest
from complex.complex_helpers import (
    BACKEND,
    as_complex_tensor,
    as_pair,
    call_layer,
    complex_conv_reference,
    dtype_name,
    random_complex,
    to_complex_numpy,
    to_numpy,
)

from structconv import layers
from structconv.parametrizations import UnitModulus, UnitNorm


def _set_random_weights(layer, rng):
    """Random kernel (real view) and bias; returns them as (complex kernel, complex bias or 0)."""
    weights = [rng.standard_normal(w.shape) for w in layer.get_weights()]
    layer.set_weights(weights)
    kernel = weights[0][..., 0] + 1j * weights[0][..., 1]
    bias = weights[1][:, 0] + 1j * weights[1][:, 1] if layer.use_bias else 0.0
    return kernel, bias


# name -> (layer arguments, input shape, reference keyword arguments)
CASES = {
    "2d_bias": ({"filters": 3, "kernel_size": 3, "padding": "same"}, (2, 6, 5, 2), {"padding": "same"}),
    "2d_groups_gauss": ({"filters": 4, "kernel_size": (2, 3), "groups": 2, "method": "gauss", "strides": 2},
                        (1, 7, 7, 4), {"groups": 2, "strides": 2}),
    "2d_channels_first_naive": ({"filters": 2, "kernel_size": 3, "data_format": "channels_first",
                                 "method": "naive", "dilation_rate": 2, "padding": "full"},
                                (1, 3, 7, 6), {"data_format": "channels_first", "dilation": 2,
                                               "padding": "full"}),
    "1d_reflect": ({"filters": 2, "kernel_size": 4, "rank": 1, "padding": "same", "padding_mode": "reflect"},
                   (2, 9, 1), {"padding": "same", "padding_mode": "reflect"}),
    "3d_no_bias": ({"filters": 2, "kernel_size": 2, "rank": 3, "use_bias": False}, (1, 4, 3, 5, 2), {}),
}
ALIASES = {1: layers.ComplexConv1D, 2: layers.ComplexConv2D, 3: layers.ComplexConv3D}


def _layer(name):
    arguments, shape, reference_arguments = CASES[name]
    arguments = dict(arguments)
    rank = arguments.pop("rank", 2)
    # zeros: the weights are set afterwards (and on JAX a random initializer compiles op by op)
    return ALIASES[rank](**arguments, kernel_initializer="zeros"), shape, reference_arguments


def _channel_axis(layer):
    return -1 if layer.data_format == "channels_last" else 1


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_matches_reference_with_complex_bias(name):
    layer, shape, reference_arguments = _layer(name)
    rng = np.random.default_rng(0)
    z = random_complex(rng, shape)
    layer.build((shape, shape))
    kernel, bias = _set_random_weights(layer, rng)
    expected = complex_conv_reference(z, kernel, **reference_arguments)
    if layer.use_bias:
        bias_shape = [1] * len(shape)
        bias_shape[_channel_axis(layer)] = layer.filters
        expected = expected + np.reshape(bias, bias_shape)
    pair_out, complex_out = call_layer(layer, as_pair(z, "float32"), as_complex_tensor(z))
    assert isinstance(pair_out, tuple) and len(pair_out) == 2
    assert [dtype_name(part) for part in pair_out] == ["float32", "float32"]
    assert not isinstance(complex_out, (tuple, list)) and dtype_name(complex_out) == "complex64"
    for out in (pair_out, complex_out):
        actual = to_complex_numpy(out)
        assert actual.shape == expected.shape
        np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_complex_bias_is_added_to_each_part():
    """With a zero kernel the output is the bias: `re = bias[:, 0]`, `im = bias[:, 1]`, per filter."""
    layer = layers.ComplexConv2D(3, 2, kernel_initializer="zeros")
    layer.build(((1, 4, 4, 2), (1, 4, 4, 2)))
    bias = np.array([[1.0, -2.0], [0.5, 3.0], [-1.5, 0.25]], "float32")
    layer.bias.assign(bias)
    z = np.ones((1, 4, 4, 2), "complex64")
    real, imag = layer(as_pair(z, "float32"))
    np.testing.assert_array_equal(to_numpy(real), np.broadcast_to(bias[:, 0], (1, 3, 3, 3)))
    np.testing.assert_array_equal(to_numpy(imag), np.broadcast_to(bias[:, 1], (1, 3, 3, 3)))
    np.testing.assert_array_equal(to_numpy(layer(as_complex_tensor(z))),
                                  np.broadcast_to(bias[:, 0] + 1j * bias[:, 1], (1, 3, 3, 3)))


def test_variables_are_real_and_kernel_is_a_pair():
    layer = layers.ComplexConvND(6, (3, 2), rank=2, groups=2, kernel_initializer="zeros")
    layer.build((1, 8, 8, 4))
    _set_random_weights(layer, np.random.default_rng(3))
    variables = {v.path.split("/")[-1]: v for v in layer.weights}
    assert sorted(variables) == ["bias", "kernel"]
    assert tuple(variables["kernel"].shape) == (3, 2, 2, 6, 2)
    assert tuple(variables["bias"].shape) == (6, 2)
    assert all(dtype_name(v) == "float32" for v in layer.weights)
    assert layer.count_params() == 3 * 2 * 2 * 6 * 2 + 6 * 2
    real, imag = layer.kernel
    assert tuple(real.shape) == tuple(imag.shape) == (3, 2, 2, 6)
    view = to_numpy(variables["kernel"])
    np.testing.assert_array_equal(to_numpy(real), view[..., 0])
    np.testing.assert_array_equal(to_numpy(imag), view[..., 1])


def test_phase_only_kernels():
    rng = np.random.default_rng(4)
    unit_modulus = layers.ComplexConv2D(4, 3, kernel_parametrization=UnitModulus(),
                                        kernel_initializer="zeros")
    unit_modulus.build((1, 8, 8, 2))
    free = {v.path.split("/")[-1]: v for v in unit_modulus.weights}["free_kernel"]
    assert tuple(free.shape) == (3, 3, 2, 4)  # one phase per tap
    free.assign(rng.uniform(-10, 10, free.shape).astype("float32"))
    unit_norm = layers.ComplexConv2D(4, 3, kernel_parametrization=UnitNorm(axis=-1),
                                     kernel_initializer="ones")
    unit_norm.build((1, 8, 8, 2))
    assert unit_norm.count_params() == 3 * 3 * 2 * 4 * 2 + 8  # two numbers per tap, and the bias
    _set_random_weights(unit_norm, rng)
    for layer in (unit_modulus, unit_norm):
        real, imag = (to_numpy(part).astype(np.float64) for part in layer.kernel)
        np.testing.assert_allclose(np.hypot(real, imag), 1.0, atol=4e-7)
    # the phase of a UnitModulus kernel is its free variable
    real, imag = (to_numpy(part) for part in unit_modulus.kernel)
    np.testing.assert_allclose(np.angle((real + 1j * imag) * np.exp(-1j * to_numpy(free))), 0.0, atol=1e-6)


def test_unit_norm_over_whole_complex_filters():
    """`UnitNorm` over the taps, input channels and both parts: each complex filter has
    `sum |k|^2 = 1` (a joint norm per filter, not per tap), and the convolution uses that kernel."""
    layer = layers.ComplexConv2D(3, (2, 3), kernel_parametrization=UnitNorm(axis=(0, 1, 2, 4)),
                                 use_bias=False, kernel_initializer="zeros")
    layer.build((1, 6, 6, 2))
    rng = np.random.default_rng(7)
    layer.free_kernel.assign(rng.standard_normal(layer.free_kernel.shape).astype("float32"))
    real, imag = (to_numpy(part).astype(np.float64) for part in layer.kernel)
    energy = np.sum(real**2 + imag**2, axis=(0, 1, 2))
    np.testing.assert_allclose(energy, np.ones(3), atol=1e-6)
    assert np.abs(np.hypot(real, imag) - 1).max() > 0.1  # not phase-only tap by tap
    z = random_complex(rng, (1, 6, 6, 2))
    expected = complex_conv_reference(z, real + 1j * imag)
    actual = to_complex_numpy(layer(as_pair(z, "float32")))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_float64_layer_computes_a_float64_phase_only_kernel():
    """A float64 ComplexConv2D with `UnitModulus()` convolves with a float64 kernel of modulus 1 to float64
    rounding, on JAX too, where `keras.ops.cos`/`sin` return float32 for float64 input; its right inverse
    (`assign_kernel`) recovers the phase in float64 as well (`keras.ops.arctan2` narrows on JAX and torch)."""
    layer = layers.ComplexConv2D(4, 3, dtype="float64", kernel_parametrization=UnitModulus(),
                                 kernel_initializer="zeros")
    layer.build((1, 8, 8, 2))
    layer.free_kernel.assign(np.random.default_rng(5).uniform(-10, 10, (3, 3, 2, 4)))
    real, imag = layer.kernel
    assert (dtype_name(real), dtype_name(imag)) == ("float64", "float64"), BACKEND
    modulus = np.hypot(to_numpy(real), to_numpy(imag))
    assert np.abs(modulus - 1).max() < 1e-14
    phase = np.random.default_rng(6).uniform(-np.pi, np.pi, (3, 3, 2, 4))
    layer.assign_kernel(np.stack([np.cos(phase), np.sin(phase)], -1))
    assert dtype_name(layer.free_kernel) == "float64"
    np.testing.assert_allclose(to_numpy(layer.free_kernel), phase, rtol=0, atol=1e-14)


def test_kernel_regularizer_applies_with_a_parametrization():
    """As on `ConvND`, `kernel_regularizer` penalises the effective kernel (the real view) when the kernel
    is parametrized: a UnitNorm(axis=-1) kernel of 3x3x1x2 taps has l2 penalty 0.01 * 18. Without a
    parametrization Keras applies it to the variable itself."""
    x = np.ones((1, 5, 5, 1), "float32")
    plain = layers.ComplexConv2D(2, 3, kernel_regularizer="l2",
                                 kernel_initializer=keras.initializers.Constant(0.5))
    plain((x, x))
    view = to_numpy(plain.weights[0])
    assert len(plain.losses) == 1
    np.testing.assert_allclose(float(to_numpy(plain.losses[0])), 0.01 * np.sum(view**2), rtol=1e-5)
    parametrized = layers.ComplexConv2D(2, 3, kernel_regularizer="l2", kernel_initializer="ones",
                                        kernel_parametrization=UnitNorm(axis=-1))
    parametrized((x, x))
    assert len(parametrized.losses) == 1
    np.testing.assert_allclose(float(to_numpy(parametrized.losses[0])), 0.01 * 18, rtol=1e-5)


def test_activity_regularizer_gives_a_real_penalty_on_complex_outputs():
    """The activity penalty of a complex output is a real number, `0.01 * sum(|z|^2)` for l2, the same as for
    the equivalent pair (applied to the complex tensor itself, l2 would give the complex `sum(z^2)`), and the
    config keeps the regularizer the user gave."""
    rng = np.random.default_rng(1)
    z = random_complex(rng, (2, 5, 5, 1))
    layer = layers.ComplexConv2D(2, 3, activity_regularizer="l2", kernel_initializer="ones")
    pair_output = layer(as_pair(z, "float32"))
    from_pair = sum(float(to_numpy(loss)) for loss in layer.losses)
    # Keras divides an activity penalty by the batch size
    expected = 0.01 * np.sum(np.abs(to_complex_numpy(pair_output)) ** 2) / len(z)
    np.testing.assert_allclose(from_pair, expected, rtol=1e-5)
    layer(as_complex_tensor(z))
    from_complex = [to_numpy(loss) for loss in layer.losses]
    assert len(from_complex) == 1
    assert not np.iscomplexobj(from_complex[0]), from_complex[0]
    np.testing.assert_allclose(float(from_complex[0]), expected, rtol=1e-5)
    assert layer.get_config()["activity_regularizer"] == keras.regularizers.serialize(keras.regularizers.L2())
    clone = layers.ComplexConv2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    # the phase modulation's complex output likewise
    x = rng.random((2, 4, 4, 1)).astype("float32")
    slm = layers.PhaseModulation(output_form="complex", activity_regularizer="l1",
                                 phase_initializer="random_normal")
    slm(x)
    assert len(slm.losses) == 1 and not np.iscomplexobj(to_numpy(slm.losses[0]))
    phase = to_numpy(slm.phase)
    expected = 0.01 * np.sum(np.abs(x * np.cos(phase)) + np.abs(x * np.sin(phase))) / len(x)
    np.testing.assert_allclose(float(to_numpy(slm.losses[0])), expected, rtol=1e-5)
    assert layers.PhaseModulation.from_config(slm.get_config()).get_config() == slm.get_config()


def test_output_shapes_and_specs():
    layer = layers.ComplexConv2D(5, 3, strides=2, padding="same", kernel_initializer="zeros")
    assert layer.compute_output_shape((None, 9, 8, 2)) == (None, 5, 4, 5)
    assert layer.compute_output_shape(((None, 9, 8, 2), (None, 9, 8, 2))) == (((None, 5, 4, 5),) * 2)
    real, imag = keras.Input((9, 8, 2)), keras.Input((9, 8, 2))
    outputs = layer((real, imag))
    assert isinstance(outputs, tuple) and [tuple(o.shape) for o in outputs] == [(None, 5, 4, 5)] * 2
    complex_input = keras.Input((9, 8, 2), dtype="complex64")
    symbolic = layers.ComplexConv2D(5, 3, kernel_initializer="zeros")(complex_input)
    assert tuple(symbolic.shape) == (None, 7, 6, 5) and symbolic.dtype == "complex64"


def test_phase_modulation_forms():
    rng = np.random.default_rng(2)
    x = rng.random((2, 4, 4, 1)).astype("float32")
    layer = layers.PhaseModulation()
    layer.build(x.shape)
    layer.phase.assign(rng.uniform(-3, 3, (4, 4, 1)).astype("float32"))
    real, imag = layer(x)
    phase = to_numpy(layer.phase)
    assert phase.shape == (4, 4, 1)
    expected = x * np.exp(1j * phase)
    np.testing.assert_allclose(to_complex_numpy((real, imag)), expected, atol=1e-6)
    as_complex = layers.PhaseModulation(output_form="complex")(x)
    assert dtype_name(as_complex) == "complex64"
    np.testing.assert_allclose(to_numpy(as_complex), x, atol=0)  # zero phase: the identity
    # complex inputs are multiplied as complex numbers and keep their form
    z = random_complex(rng, (2, 4, 4, 1)).astype(np.complex64)
    out = layer(as_complex_tensor(z))
    assert dtype_name(out) == "complex64"
    np.testing.assert_allclose(to_numpy(out), z * np.exp(1j * phase), atol=1e-5)
    out = layer(as_pair(z, "float32"))
    assert isinstance(out, tuple)
    np.testing.assert_allclose(to_complex_numpy(out), z * np.exp(1j * phase), atol=1e-5)


def test_intensity_layer():
    z = np.array([[3 + 4j, 0, 1 - 1j]], np.complex64)
    from_complex = layers.Intensity()(as_complex_tensor(z))
    assert dtype_name(from_complex) == "float32"
    np.testing.assert_allclose(to_numpy(from_complex), [[25.0, 0.0, 2.0]], rtol=1e-6)
    np.testing.assert_allclose(to_numpy(layers.Intensity()(as_pair(z, "float32"))), [[25.0, 0.0, 2.0]],
                               rtol=1e-6)
