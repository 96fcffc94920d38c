"""`ops.complex_conv_transpose` and `ComplexConvNDTranspose`: against the float64 NumPy transposed
convolution of `tests/reference.py` combined into complex128, as the adjoint of `complex_conv` (bilinear,
no conjugate), for every method, and with float64 gradients."""

import numpy as np
import pytest
import reference
from complex.complex_helpers import (
    as_complex_tensor,
    as_pair,
    complex_conv_reference,
    random_complex,
    tensor,
    to_complex_numpy,
)
from conftest import autodiff_gradients
from keras import ops

from structconv import layers
from structconv import ops as sops

CASES = [
    dict(strides=2, padding="same"),
    dict(strides=(2, 1), padding="valid", output_padding=(1, 0), dilation_rate=1),
    dict(strides=1, padding="same", dilation_rate=(1, 2)),
]


def transpose_reference(y, kernel, data_format="channels_last", **kwargs):
    """complex128 from four float64 real transposed convolutions (the reference's scatter loop)."""
    kwargs = dict(kwargs)
    dilation = kwargs.pop("dilation_rate", 1)

    def real(x, k):
        return reference.conv_transpose_reference(x, k, dilation=dilation, data_format=data_format, **kwargs)

    a, b, c, d = y.real, y.imag, kernel.real, kernel.imag
    return (real(a, c) - real(b, d)) + 1j * (real(a, d) + real(b, c))


@pytest.mark.parametrize("method", ("naive", "gauss", "block", "auto"))
@pytest.mark.parametrize("case", range(len(CASES)))
def test_against_numpy(method, case):
    kwargs = CASES[case]
    rng = np.random.default_rng(case)
    y, kernel = random_complex(rng, (2, 4, 5, 3)), random_complex(rng, (3, 2, 4, 3))
    expected = transpose_reference(y, kernel, **kwargs)
    for form, tolerance in (("float64", 1e-12), ("float32", 1e-5), ("complex64", 1e-5)):
        wrap = as_complex_tensor if form == "complex64" else (lambda z, form=form: as_pair(z, form))
        out = sops.complex_conv_transpose(wrap(y), wrap(kernel), method=method, **kwargs)
        # gauss loses precision on the imaginary part in float32 (see ops.complex_conv)
        scale = (100 if method == "gauss" and form != "float64" else 1) * tolerance * np.abs(expected).max()
        np.testing.assert_allclose(to_complex_numpy(out), expected, rtol=0, atol=scale)


def test_channels_first_and_adjoint_of_complex_conv():
    """`sum(complex_conv(x, k) * z) == sum(x * complex_conv_transpose(z, k))`: the definition of the
    transpose (a `(*k, filters, in)` transposed kernel is the `(*k, in, out)` kernel of the forward
    convolution from its output back to its input)."""
    rng = np.random.default_rng(7)
    kernel = random_complex(rng, (3, 3, 4, 2))  # (*k, filters, in)
    x = random_complex(rng, (2, 8, 7, 4))
    y = complex_conv_reference(x, kernel, strides=2, padding="same")
    z = random_complex(rng, y.shape)
    transposed = to_complex_numpy(sops.complex_conv_transpose(as_pair(z), as_pair(kernel), strides=2,
                                                               padding="same", output_padding=(1, 0)))
    assert transposed.shape == x.shape
    np.testing.assert_allclose(np.sum(x * transposed), np.sum(y * z), rtol=1e-12)
    first = sops.complex_conv_transpose(as_pair(np.moveaxis(z, -1, 1)), as_pair(kernel), strides=2,
                                        padding="same", output_padding=(1, 0), data_format="channels_first")
    np.testing.assert_allclose(to_complex_numpy(first), np.moveaxis(transposed, -1, 1), rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", ("naive", "block"))
def test_gradients(method):
    kwargs = CASES[1]
    rng = np.random.default_rng(8)
    y, kernel = random_complex(rng, (1, 3, 3, 2)), random_complex(rng, (2, 2, 2, 2))
    shape = transpose_reference(y, kernel, **kwargs).shape
    u, v = rng.standard_normal((2, *shape))

    def loss(a, b, c, d):
        real, imag = sops.complex_conv_transpose((a, b), (c, d), method=method, **kwargs)
        return ops.sum(tensor(u, "float64") * real + tensor(v, "float64") * sops.intensity((real, imag)))

    arrays = [y.real, y.imag, kernel.real, kernel.imag]

    def reference_loss(values):
        out = transpose_reference(values[0] + 1j * values[1], values[2] + 1j * values[3], **kwargs)
        return float(np.sum(u * out.real + v * np.abs(out) ** 2))

    for index, gradient in enumerate(autodiff_gradients(loss, *arrays)):
        numeric = reference.numerical_gradient(
            lambda t, index=index: reference_loss([t if i == index else a for i, a in enumerate(arrays)]),
            arrays[index], eps=1e-4)
        np.testing.assert_allclose(gradient, numeric, rtol=0, atol=1e-7 * np.abs(numeric).max())


def test_layer_matches_the_op_with_its_bias():
    rng = np.random.default_rng(9)
    layer = layers.ComplexConv2DTranspose(3, (3, 2), strides=2, padding="same", dtype="float64",
                                          bias_initializer="random_normal")
    y = random_complex(rng, (2, 4, 5, 2))
    layer.build((y.shape, y.shape))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 2, 3, 2, 2)
    expected = transpose_reference(y, kernel[..., 0] + 1j * kernel[..., 1], strides=2, padding="same")
    expected = expected + (bias[:, 0] + 1j * bias[:, 1])
    for field in (as_pair(y), as_complex_tensor(y, "complex128")):
        np.testing.assert_allclose(to_complex_numpy(layer(field)), expected, rtol=0, atol=1e-12)
    assert layer.compute_output_shape((y.shape, y.shape)) == ((2, 8, 10, 3), (2, 8, 10, 3))
