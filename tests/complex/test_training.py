"""User story 1 trains and its kernel stays phase-only: |kernel| = 1 to float32 rounding after `fit`.

The model: PhaseModulation -> ComplexConv2D(kernel_parametrization=...) -> Intensity -> AveragePooling2D ->
Flatten -> Dense softmax, on the first few hundred sklearn digits, a few epochs at a large learning rate
(so the phases move far from their initial values).
"""

import keras
import numpy as np
import pytest
from complex.complex_helpers import digits, story_one_model, to_numpy

from structconv.parametrizations import UnitModulus, UnitNorm

PARAMETRIZATIONS = {"unit_modulus": UnitModulus, "unit_norm_last_axis": lambda: UnitNorm(axis=-1)}
EPOCHS, BATCH = 4, 32


@pytest.fixture(scope="module")
def data():
    return digits(320)


@pytest.mark.parametrize("name", sorted(PARAMETRIZATIONS))
def test_unit_modulus_holds_after_training(data, name):
    keras.utils.set_random_seed(0)
    images, labels = data
    model = story_one_model(PARAMETRIZATIONS[name]())
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    lens = model.get_layer("lens")
    before = np.stack([to_numpy(part) for part in lens.kernel], -1)
    history = model.fit(images, labels, batch_size=BATCH, epochs=EPOCHS, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0], losses
    real, imag = (to_numpy(part) for part in lens.kernel)
    assert real.dtype == np.float32 and real.shape == (3, 3, 1, 4)
    after = np.stack([real, imag], -1)
    assert np.abs(after - before).max() > 0.1, "the kernel did not train"
    modulus = np.hypot(real.astype(np.float64), imag.astype(np.float64))
    # float32 rounding of cos/sin (or of x * rsqrt(x^2 + y^2)): a few units of 2^-24
    assert np.abs(modulus - 1.0).max() < 4 * np.finfo(np.float32).eps, np.abs(modulus - 1.0).max()
    assert lens.kernel_parametrization.in_manifold(after, atol=1e-6)
    # the modulation layer trained as well
    assert np.abs(to_numpy(model.get_layer("slm").phase)).max() > 1.0
