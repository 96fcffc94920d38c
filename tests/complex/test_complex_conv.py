"""`ops.complex_conv` against an independent complex128 NumPy reference, for every method.

Every case runs as `(real, imag)` pairs in float64 at a tight tolerance; a subset also as complex64 tensors
(the output must be a complex tensor; float32 tolerance). That complex128 tensors keep their precision is a
separate test below.
"""

import numpy as np
import pytest
from complex.complex_helpers import (
    BACKEND,
    as_complex_tensor,
    as_pair,
    compiled,
    complex_conv_reference,
    dtype_name,
    random_complex,
    tensor,
    to_complex_numpy,
    to_numpy,
)

from structconv import ops as sops

METHODS = ("naive", "gauss", "block", "auto")

# name -> (input shape, kernel shape, keyword arguments); shapes in the case's data format.
CASES = {
    "1d": ((2, 9, 3), (3, 3, 4), {}),
    "1d_stride_dilation_same": ((2, 11, 2), (3, 2, 2), {"strides": 2, "dilation_rate": 2, "padding": "same"}),
    "1d_causal_cf": ((1, 2, 7), (2, 2, 3), {"padding": "causal", "data_format": "channels_first"}),
    "2d": ((2, 6, 7, 3), (3, 2, 3, 4), {}),
    "2d_groups": ((2, 6, 6, 4), (3, 3, 2, 6), {"groups": 2, "padding": "same"}),
    "2d_groups_cf": ((1, 5, 6, 5), (2, 3, 1, 5), {"groups": 5, "data_format": "channels_first",
                                                   "strides": (2, 1)}),
    "2d_pairs_reflect": ((1, 5, 6, 2), (3, 3, 2, 3), {"padding": ((1, 2), 1), "padding_mode": "reflect"}),
    "2d_full_circular_cf": ((1, 2, 4, 5), (2, 3, 2, 2), {"padding": "full", "padding_mode": "circular",
                                                          "data_format": "channels_first"}),
    "2d_fft": ((1, 12, 12, 2), (7, 7, 2, 2), {"padding": "same", "algorithm": "fft"}),
    "3d": ((1, 5, 4, 6, 2), (2, 3, 3, 2, 2), {"strides": (1, 2, 2), "padding": "same"}),
    "3d_groups_dilation_cf": ((1, 4, 6, 5, 5), (2, 2, 2, 2, 4), {"groups": 2, "dilation_rate": (2, 1, 2),
                                                                 "data_format": "channels_first"}),
    "4d": ((1, 4, 3, 4, 3, 2), (2, 2, 2, 2, 2, 3), {"padding": "same"}),
    "4d_groups_stride_cf": ((1, 4, 5, 4, 3, 4), (3, 2, 2, 2, 2, 2), {"groups": 2, "strides": 2,
                                                                     "padding": "valid",
                                                                     "data_format": "channels_first",
                                                                     "padding_mode": "replicate"}),
}


def _operands(name, seed=0):
    x_shape, k_shape, kwargs = CASES[name]
    rng = np.random.default_rng(seed)
    x, k = random_complex(rng, x_shape), random_complex(rng, k_shape)
    return x, k, kwargs


def _expected(x, k, kwargs):
    return complex_conv_reference(
        x, k,
        strides=kwargs.get("strides", 1),
        padding=kwargs.get("padding", "valid"),
        dilation=kwargs.get("dilation_rate", 1),
        groups=kwargs.get("groups", 1),
        padding_mode=kwargs.get("padding_mode", "zeros"),
        data_format=kwargs.get("data_format", "channels_last"),
    )


def _run(x, k, method, kwargs):
    return compiled(lambda x, k: sops.complex_conv(x, k, method=method, **kwargs))(x, k)


def _run_all(x, k, kwargs):
    """{method: output}, every method in one compiled function (one JAX compilation per case)."""
    return compiled(lambda x, k: {m: sops.complex_conv(x, k, method=m, **kwargs) for m in METHODS})(x, k)


@pytest.mark.parametrize("name", sorted(CASES))
def test_pairs_float64_match_reference(name):
    x, k, kwargs = _operands(name)
    expected = _expected(x, k, kwargs)
    scale = np.abs(expected).max()
    for method, out in _run_all(as_pair(x), as_pair(k), kwargs).items():
        assert isinstance(out, tuple) and len(out) == 2, method
        assert [dtype_name(part) for part in out] == ["float64", "float64"], method
        actual = to_complex_numpy(out)
        assert actual.shape == expected.shape, method
        np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-10 * scale, err_msg=method)


# The complex form only wraps the pair form: a subset of the cases covers it.
COMPLEX_CASES = ("1d_causal_cf", "2d_groups_cf", "2d_fft", "3d_groups_dilation_cf", "4d_groups_stride_cf")


@pytest.mark.parametrize("name", COMPLEX_CASES)
def test_complex_tensors_match_reference(name):
    x, k, kwargs = _operands(name, seed=1)
    expected = _expected(x.astype(np.complex64), k.astype(np.complex64), kwargs)
    scale = np.abs(expected).max()
    for method, out in _run_all(as_complex_tensor(x), as_complex_tensor(k), kwargs).items():
        assert not isinstance(out, (tuple, list)), method
        assert dtype_name(out) == "complex64", method
        actual = to_complex_numpy(out)
        assert actual.shape == expected.shape, method
        np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-5 * scale, err_msg=method)


def test_complex128_tensors_keep_complex128():
    """complex128 in, complex128 out, at float64 precision, as float64 pairs give float64 pairs
    (`keras.ops.view_as_complex` would round the result to complex64)."""
    x, k, kwargs = _operands("2d_groups", seed=2)
    expected = _expected(x, k, kwargs)
    results = {}
    outputs = _run_all(as_complex_tensor(x, "complex128"), as_complex_tensor(k, "complex128"), kwargs)
    for method, out in outputs.items():
        error = np.abs(to_complex_numpy(out) - expected).max() / np.abs(expected).max()
        results[method] = (dtype_name(out), f"{error:.1e}")
    assert all(dtype == "complex128" and float(error) < 1e-10 for dtype, error in results.values()), results


@pytest.mark.parametrize("method", METHODS)
def test_output_form_follows_the_input_form(method):
    """The kernel's form does not matter: a complex input gives a complex output, a pair a pair."""
    x, k, kwargs = _operands("2d", seed=3)
    expected = _expected(x.astype(np.complex64), k.astype(np.complex64), kwargs)
    complex_in = sops.complex_conv(as_complex_tensor(x), as_pair(k, "float32"), method=method)
    assert not isinstance(complex_in, (tuple, list)) and dtype_name(complex_in) == "complex64"
    pair_in = sops.complex_conv(as_pair(x, "float32"), as_complex_tensor(k), method=method)
    assert isinstance(pair_in, tuple) and [dtype_name(p) for p in pair_in] == ["float32", "float32"]
    as_list = sops.complex_conv(list(as_pair(x, "float32")), list(as_pair(k, "float32")), method=method)
    assert isinstance(as_list, tuple)
    for out in (complex_in, pair_in, as_list):
        np.testing.assert_allclose(to_complex_numpy(out), expected, rtol=0,
                                   atol=1e-5 * np.abs(expected).max())


def test_real_input_as_pair_with_zero_imaginary_part_is_a_real_conv():
    """A real input `(x, 0)` against a real kernel `(w, 0)` gives `(conv(x, w), 0)`, exactly 0 with "gauss"
    (its imaginary part is a difference of two bitwise-equal convolutions)."""
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 7, 7, 3)), rng.standard_normal((3, 3, 3, 4))
    expected = to_numpy(sops.conv(tensor(x, "float64"), tensor(w, "float64"), padding="same"))
    for method in ("gauss", "block"):
        real, imag = _run((tensor(x, "float64"), tensor(0 * x, "float64")),
                          (tensor(w, "float64"), tensor(0 * w, "float64")), method, {"padding": "same"})
        np.testing.assert_allclose(to_numpy(real), expected, rtol=0, atol=1e-12 * np.abs(expected).max())
        assert np.all(to_numpy(imag) == 0.0)


def test_intensity_of_both_forms():
    z = np.array([[3 + 4j, 0, -1 + 2j]])
    expected = np.abs(z) ** 2
    from_pair = sops.intensity(as_pair(z))
    assert dtype_name(from_pair) == "float64"
    np.testing.assert_allclose(to_complex_numpy(from_pair).real, expected)
    from_complex = sops.intensity(as_complex_tensor(z, "complex64"))
    assert dtype_name(from_complex) == "float32"
    np.testing.assert_allclose(to_complex_numpy(from_complex).real, expected, rtol=1e-6)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="only TensorFlow traces graphs with unknown sizes")
@pytest.mark.long
def test_unknown_spatial_sizes_in_a_tensorflow_graph():
    """Every method traces under `tf.function` with unknown batch and spatial sizes, as `ops.conv` does
    (a graph exported for inputs of any size, or a `tf.data` pipeline of variable sizes): "block" reorders
    channels without reshaping by the static shape, whose unknown sizes are `None`."""
    import tensorflow as tf

    x, k, _ = _operands("2d", seed=5)
    expected = _expected(x, k, {"padding": "same"})
    spec = tf.TensorSpec((None, None, None, x.shape[-1]), tf.float64)
    kernel = as_pair(k)
    failures = {}
    for method in METHODS:
        function = tf.function(
            lambda real, imag, method=method: sops.complex_conv((real, imag), kernel, padding="same",
                                                                method=method),
            input_signature=[spec, spec])
        try:
            out = function(*as_pair(x))
        except (TypeError, ValueError) as error:
            failures[method] = f"{type(error).__name__}: {str(error).strip().splitlines()[-1].strip()[:70]}"
            continue
        np.testing.assert_allclose(to_complex_numpy(out), expected, atol=1e-10 * np.abs(expected).max())
    assert not failures, failures
