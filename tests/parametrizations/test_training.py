"""Each constraint holds to float32 rounding after 200 optimizer steps at a large learning rate.

All cases train side by side in one model (a `Conv2D(2, 3)` each, on the same 6x6x2 inputs), so that one
`fit` of 200 steps covers them; the invariants are checked with NumPy on each layer's effective kernel.
"""

import keras
import numpy as np
import pytest
from parametrizations.param_helpers import CASE_NAMES, cases, check_invariant, to_numpy

from structconv import layers

STEPS, BATCH = 200, 8

OPTIMIZERS = {
    "adam": lambda: keras.optimizers.Adam(learning_rate=0.1),
    "sgd_momentum": lambda: keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
}


@pytest.fixture(scope="module", params=sorted(OPTIMIZERS))
def trained(request):
    """(optimizer name, {case: (kernel before, kernel after, free variable after)}, optimizer steps)."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    inputs = keras.Input((6, 6, 2))
    convs = {name: layers.Conv2D(2, 3, kernel_parametrization=p, name=name) for name, p in cases().items()}
    model = keras.Model(inputs, keras.layers.Concatenate()([conv(inputs) for conv in convs.values()]))
    optimizer = OPTIMIZERS[request.param]()
    model.compile(optimizer=optimizer, loss="mse")
    before = {name: to_numpy(conv.kernel) for name, conv in convs.items()}
    # a random regression task: a random teacher's responses plus noise
    x = rng.standard_normal((STEPS * BATCH, 6, 6, 2)).astype("float32")
    teacher = rng.standard_normal((18, 2 * len(convs))).astype("float32")
    patches = np.stack(
        [x[:, i : i + 3, j : j + 3, :].reshape(len(x), -1) for i in range(4) for j in range(4)], 1
    )
    y = (patches @ teacher).reshape(len(x), 4, 4, -1) + 0.1 * rng.standard_normal(
        (len(x), 4, 4, 2 * len(convs))
    )
    history = model.fit(x, y.astype("float32"), batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    after = {
        name: (before[name], to_numpy(conv.kernel), to_numpy(conv.free_kernel))
        for name, conv in convs.items()
    }
    return request.param, after, int(to_numpy(optimizer.iterations))


def test_ran_the_steps(trained):
    _, _, steps = trained
    assert steps == STEPS


@pytest.mark.parametrize("name", CASE_NAMES)
def test_invariant_holds_after_training(trained, name):
    optimizer, kernels, _ = trained
    before, after, free = kernels[name]
    assert after.dtype == np.float32
    # the optimizer did move the kernel, so the check is not of the initial kernel
    assert np.abs(after - before).max() > 0.05, f"{name} ({optimizer}) did not train"
    assert check_invariant(name, after, free) == [], optimizer
