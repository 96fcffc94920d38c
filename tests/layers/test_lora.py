"""LoRA on every structconv convolution layer: Keras parity, the kernel as `base + alpha / rank * a @ b`
(checked in NumPy), constraints kept exactly while fine-tuning, saving, errors."""

import keras
import numpy as np
import pytest
from conftest import to_numpy

from structconv import layers as L
from structconv import parametrizations as P
from structconv.errors import StructconvError

RNG = np.random.default_rng(0)


def _random_weights(layer, scale=0.3):
    for weight in layer.weights:
        weight.assign((scale * RNG.standard_normal(weight.shape)).astype(weight.dtype))


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_matches_keras_with_the_same_weights(rank):
    shape = (2, *(5,) * rank, 4)
    ref = getattr(keras.layers, f"Conv{rank}D")(6, 3, groups=2, lora_rank=2, lora_alpha=3)
    ours = getattr(L, f"Conv{rank}D")(6, 3, groups=2, lora_rank=2, lora_alpha=3)
    ref.build(shape)
    ours.build(shape)
    assert [w.name for w in ours.weights] == [w.name for w in ref.weights]
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in ref.weights]
    assert [w.name for w in ours.trainable_weights] == [w.name for w in ref.trainable_weights]
    assert [w.name for w in ours.non_trainable_weights] == ["kernel"]
    _random_weights(ref)
    ours.set_weights(ref.get_weights())
    x = RNG.standard_normal(shape).astype("float32")
    np.testing.assert_allclose(to_numpy(ours(x)), to_numpy(ref(x)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_numpy(ours.kernel), to_numpy(ref.kernel), rtol=1e-6, atol=1e-6)
    assert ours.get_config()["lora_rank"] == 2 and ours.get_config()["lora_alpha"] == 3


@pytest.mark.parametrize(
    "make, input_shape",
    [
        (lambda: L.ConvND(3, 2, rank=4), (None, 4, 4, 4, 4, 2)),
        (lambda: L.Conv2DTranspose(3, 3, strides=2), (None, 5, 5, 2)),
        (lambda: L.ComplexConv2D(3, 3), (None, 5, 5, 2)),
    ],
    ids=["rank4", "transposed", "complex"],
)
def test_kernel_is_base_plus_scaled_low_rank_product(make, input_shape):
    layer = make()
    layer.build(input_shape)
    base = to_numpy(layer._kernel)
    layer.enable_lora(2, lora_alpha=5.0)
    _random_weights(layer)
    a, b = to_numpy(layer.lora_kernel_a), to_numpy(layer.lora_kernel_b)
    base = to_numpy(layer._kernel)
    if isinstance(layer, L.ComplexConvND):  # a complex product on the real views
        product = (a[..., 0] + 1j * a[..., 1]) @ (b[..., 0] + 1j * b[..., 1])
        product = np.stack([product.real, product.imag], axis=-1)
        kernel = np.stack([to_numpy(part) for part in layer.kernel], axis=-1)
    else:
        product, kernel = a @ b, to_numpy(layer.kernel)
    np.testing.assert_allclose(kernel, base + 2.5 * product, rtol=1e-5, atol=1e-6)
    x = RNG.standard_normal((2, *input_shape[1:])).astype("float32")
    inputs = (x, x) if isinstance(layer, L.ComplexConvND) else x
    assert keras.tree.flatten(layer(inputs))[0].shape[0] == 2


MASK = np.tril(np.ones((3, 4))).astype(bool)
CONSTRAINED = {
    "zero_sum": (P.ZeroSum(), lambda k: np.abs(k.sum(axis=(0, 1, 2))).max() <= 1e-5),
    "mask": (P.Mask(MASK), lambda k: np.all(k[..., ~MASK] == 0)),
    "zero_sum_then_unit_norm": (
        [P.ZeroSum(), P.UnitNorm()],
        lambda k: np.abs(k.sum(axis=(0, 1, 2))).max() <= 1e-5
        and np.abs(np.sqrt((k**2).sum(axis=(0, 1, 2))) - 1).max() <= 1e-5,
    ),
}


@pytest.mark.parametrize("name", sorted(CONSTRAINED))
def test_fine_tuning_keeps_the_constraint_exactly(name):
    parametrization, holds = CONSTRAINED[name]
    layer = L.Conv2D(4, 3, kernel_parametrization=parametrization, lora_rank=2)
    model = keras.Sequential([keras.Input((6, 6, 3)), layer])
    free_before = to_numpy(layer.free_kernel)
    kernel_before = to_numpy(layer.kernel)
    assert [w.name for w in layer.trainable_weights] == ["bias", "lora_kernel_a", "lora_kernel_b"]
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    x = RNG.standard_normal((8, 6, 6, 3)).astype("float32")
    y = RNG.standard_normal((8, 4, 4, 4)).astype("float32")
    model.fit(x, y, epochs=3, verbose=0)
    kernel = to_numpy(layer.kernel)
    np.testing.assert_array_equal(to_numpy(layer.free_kernel), free_before)  # the base is frozen
    assert np.abs(kernel - kernel_before).max() > 1e-3  # LoRA moved the kernel
    assert holds(kernel.astype(np.float64))


def test_save_and_load(tmp_path):
    layer = L.Conv2D(4, 3, kernel_parametrization=P.Mask(MASK), lora_rank=2, lora_alpha=4)
    model = keras.Sequential([keras.Input((6, 6, 3)), layer])
    _random_weights(layer)
    x = RNG.standard_normal((2, 6, 6, 3)).astype("float32")
    expected = to_numpy(model(x))
    model.save(tmp_path / "lora.keras")
    loaded = keras.saving.load_model(tmp_path / "lora.keras", safe_mode=True)
    assert loaded.layers[0].lora_enabled and loaded.layers[0].lora_alpha == 4
    np.testing.assert_allclose(to_numpy(loaded(x)), expected, rtol=1e-5, atol=1e-6)
    # The weights file holds the merged free variable: it loads into a layer without LoRA, and back.
    model.save_weights(tmp_path / "lora.weights.h5")
    plain = keras.Sequential([keras.Input((6, 6, 3)), L.Conv2D(4, 3, kernel_parametrization=P.Mask(MASK))])
    plain.load_weights(tmp_path / "lora.weights.h5")
    np.testing.assert_allclose(to_numpy(plain(x)), expected, rtol=1e-5, atol=1e-6)
    plain.save_weights(tmp_path / "plain.weights.h5")
    model.load_weights(tmp_path / "plain.weights.h5")
    np.testing.assert_allclose(to_numpy(model(x)), expected, rtol=1e-5, atol=1e-6)


def test_errors():
    layer = L.Conv2D(4, 3)
    with pytest.raises(ValueError, match="not built"):
        layer.enable_lora(2)
    layer.build((None, 6, 6, 3))
    with pytest.raises(StructconvError, match="Invalid `rank`: received 0"):
        layer.enable_lora(0)
    layer.enable_lora(2)
    with pytest.raises(ValueError, match="already enabled"):
        layer.enable_lora(2)
    constrained = L.Conv2D(4, 3, kernel_constraint="non_neg")
    constrained.build((None, 6, 6, 3))
    with pytest.raises(StructconvError, match="Invalid `kernel_constraint`"):
        constrained.enable_lora(2)
    with pytest.raises(StructconvError, match="Invalid `lora_rank`: received 1.5"):
        L.Conv2D(4, 3, lora_rank=1.5)
