"""Errors of the complex ops, layers, initializer and parametrization: the right type, a clear message."""

import keras
import numpy as np
import pytest
from complex.complex_helpers import as_complex_tensor, tensor

from structconv import layers
from structconv import ops as sops
from structconv.errors import StructconvError
from structconv.initializers import ComplexInitializer
from structconv.parametrizations import UnitModulus

X = np.ones((1, 6, 6, 2), "float32")
K = np.ones((3, 3, 2, 4), "float32")


def _pair(array):
    return tensor(array), tensor(array)


def test_parts_of_different_shapes():
    with pytest.raises(StructconvError, match=r"inputs.*\(1, 6, 6, 2\) and \(1, 6, 5, 2\).*same shape"):
        sops.complex_conv((tensor(X), tensor(X[:, :, :5])), _pair(K))
    with pytest.raises(StructconvError, match=r"kernel.*same shape"):
        sops.complex_conv(_pair(X), (tensor(K), tensor(K[..., :3])))
    with pytest.raises(StructconvError, match=r"`z`.*same shape"):
        sops.intensity((tensor(X), tensor(X[0])))
    layer = layers.ComplexConv2D(4, 3, kernel_initializer="zeros")
    with pytest.raises(StructconvError, match="same shape"):
        layer((tensor(X), tensor(X[:, :5])))


@pytest.mark.parametrize("count", (1, 3))
def test_pair_of_the_wrong_length(count):
    parts = [tensor(X)] * count
    message = rf"`inputs`.*a sequence of {count} tensors.*\(real, imag\) pair"
    with pytest.raises(StructconvError, match=message):
        sops.complex_conv(parts, _pair(K))
    with pytest.raises(StructconvError, match=rf"`kernel`.*a sequence of {count} tensors"):
        sops.complex_conv(_pair(X), [tensor(K)] * count)
    with pytest.raises(StructconvError, match=rf"a sequence of {count} tensors"):
        sops.intensity(tuple(parts))
    with pytest.raises(StructconvError, match=rf"a sequence of {count} tensors"):
        layers.ComplexConv2D(4, 3, kernel_initializer="zeros")(tuple(parts))


def test_real_tensor_where_complex_is_expected():
    with pytest.raises(TypeError, match=r"`inputs`.*float32.*complex tensor or a \(real, imag\) pair"):
        sops.complex_conv(tensor(X), _pair(K))
    with pytest.raises(TypeError, match=r"`kernel`.*float32"):
        sops.complex_conv(_pair(X), tensor(K))
    with pytest.raises(TypeError, match="`z`"):
        sops.intensity(tensor(X))
    with pytest.raises(TypeError, match="complex tensor"):
        layers.Intensity()(tensor(X))
    with pytest.raises(TypeError, match="complex tensor"):
        layers.ComplexConv2D(4, 3, kernel_initializer="zeros")(tensor(X))
    # a pair of integer tensors is no real-valued pair either
    with pytest.raises(TypeError, match="floating dtype"):
        sops.complex_conv((tensor(X, "int32"), tensor(X, "int32")), _pair(K))


@pytest.mark.parametrize("method", ("fast", "karatsuba", "", None, 3))
def test_unknown_method(method):
    with pytest.raises(StructconvError, match=r"`method`.*'auto' or 'naive' or 'gauss' or 'block'"):
        sops.complex_conv(_pair(X), _pair(K), method=method)
    with pytest.raises(StructconvError, match="`method`"):
        layers.ComplexConv2D(4, 3, method=method)


def test_method_names_are_case_insensitive():
    real, _ = sops.complex_conv(_pair(X), _pair(K), method="GAUSS")
    assert tuple(real.shape) == (1, 4, 4, 4)
    assert layers.ComplexConv2D(4, 3, method="Block").get_config()["method"] == "block"


def test_unit_modulus_needs_a_last_axis_of_2():
    with pytest.raises(StructconvError, match=r"kernel_shape.*\(3, 3, 1, 4\).*last axis of 2"):
        UnitModulus().build((3, 3, 1, 4))
    # on a real layer whose kernel has 4 filters last
    conv = layers.Conv2D(4, 3, kernel_parametrization=UnitModulus())
    with pytest.raises(StructconvError, match="last axis of 2"):
        conv(X)
    # a real layer of exactly 2 filters is accepted: story 1's (C, D) as two real filters
    conv = layers.Conv2D(2, 3, kernel_parametrization=UnitModulus(), kernel_initializer="zeros")
    assert tuple(conv(X).shape) == (1, 4, 4, 2)


def test_other_arguments():
    with pytest.raises(StructconvError, match="`output_form`"):
        layers.PhaseModulation(output_form="polar")
    with pytest.raises(StructconvError, match="`criterion`"):
        ComplexInitializer("lecun")
    with pytest.raises(StructconvError, match=r"`shape`.*\(3, 3, 2, 4\)"):
        ComplexInitializer()((3, 3, 2, 4))
    with pytest.raises(StructconvError, match="`inputs`.*rank >= 3"):
        sops.complex_conv(_pair(np.ones((2, 3), "float32")), _pair(K))
    with pytest.raises(StructconvError, match="`groups`"):
        layers.ComplexConv2D(4, 3, groups=3, kernel_initializer="zeros")(_pair(X))
    with pytest.raises(StructconvError, match="kernel_constraint"):
        layers.ComplexConv2D(4, 3, kernel_parametrization=UnitModulus(), kernel_constraint="non_neg")
    with pytest.raises(StructconvError, match=r"`activation`.*'relu'.*no standard activation"):
        layers.ComplexConv2D(4, 3, activation="relu")
    assert "activation" not in layers.ComplexConv2D(4, 3, activation=None).get_config()


@pytest.mark.parametrize("method", ("naive", "gauss", "block", "auto"))
def test_groups_that_do_not_divide_the_channels(method):
    """Every method checks the complex operands as `ops.conv` does ("block" doubles the channels first,
    which must not hide a bad `groups`)."""
    x, k = _pair(np.ones((1, 6, 6, 5), "float32")), _pair(np.ones((3, 3, 2, 4), "float32"))
    message = r"`groups`: received 2.*divisor of the number of input channels \(5\)"
    with pytest.raises(StructconvError, match=message):
        sops.complex_conv(x, k, groups=2, method=method)
    message = r"`groups`: received 3.*divisor of the number of filters \(4\)"
    with pytest.raises(StructconvError, match=message):
        sops.complex_conv(_pair(np.ones((1, 6, 6, 6), "float32")), k, groups=3, method=method)


def test_complex_input_of_wrong_channels():
    z = as_complex_tensor(np.ones((1, 6, 6, 3)))
    with pytest.raises(StructconvError):
        sops.complex_conv(z, as_complex_tensor(np.ones((3, 3, 2, 4))))
    layer = layers.ComplexConv2D(4, 3, kernel_initializer="zeros")
    layer(as_complex_tensor(np.ones((1, 6, 6, 2))))
    with pytest.raises(ValueError):
        layer(z)
    assert keras.backend.standardize_dtype(layer.kernel[0].dtype) == "float32"


@pytest.mark.parametrize("method", ("naive", "gauss", "block"))
def test_errors_name_the_complex_operands_not_the_doubled_pair(method):
    """The block method convolves a real pair of twice the channels; its errors name the shapes given."""
    k = _pair(np.ones((3, 3, 2, 4), "float32"))  # for 2 input channels, the inputs have 3
    three = _pair(np.ones((1, 6, 6, 3), "float32"))
    with pytest.raises(StructconvError, match=r"\(3, 3, 2, 4\).*2 \* 1 == 3"):
        sops.complex_conv(three, k, method=method)
    transposed = _pair(np.ones((3, 3, 4, 2), "float32"))  # (filters, in_channels) for 2 input channels
    with pytest.raises(StructconvError, match=r"\(3, 3, 4, 2\).*input's 3 channels"):
        sops.complex_conv_transpose(three, transposed, method=method)


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="only JAX can lack complex128 (64-bit mode off)")
def test_complex128_where_the_backend_holds_only_complex64():
    """JAX without 64-bit mode would narrow complex128 to complex64 with a mere warning: an error instead,
    in a subprocess (64-bit mode is fixed when JAX starts)."""
    import os
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import numpy as np
        from structconv import ops
        z = np.ones((1, 6, 6, 2), np.complex128)
        try:
            ops.complex_conv(z, np.ones((3, 3, 2, 4), np.complex64))
        except TypeError as error:
            print("TypeError:", error)
        k = np.ones((3, 3, 2, 4), np.complex64)
        print("complex64:", ops.complex_conv(z.astype(np.complex64), k).dtype)
    """)
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_ENABLE_X64": "0"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "TypeError: Invalid `inputs`: received a complex128 array" in result.stdout, result.stdout
    assert "JAX_ENABLE_X64=1" in result.stdout and "(real, imag) pair" in result.stdout
    assert "complex64: complex64" in result.stdout
