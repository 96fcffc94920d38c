"""The projections for stock Keras layers (`structconv.constraints`): the closed-form nearest kernel, the
constraint kept by `keras.layers.Conv2D(kernel_constraint=...)` through training, and `.keras` round trips."""

import keras
import numpy as np
import pytest
from parametrizations.param_helpers import (
    MASK_IN_OUT,
    assert_close,
    check_invariant,
    reference_project,
    to_numpy,
)

from structconv import constraints

PROJECTIONS = {
    "zero_sum": (lambda: constraints.ZeroSum(), "zero_sum"),
    "fixed_sum": (lambda: constraints.FixedSum(1.0), "fixed_sum"),
    "unit_norm_joint": (lambda: constraints.UnitNorm(axis=-1), "unit_norm_joint"),
    "unit_norm": (lambda: constraints.UnitNorm(), "unit_norm"),
    "mask_in_out": (lambda: constraints.Mask(MASK_IN_OUT), "mask_in_out"),
    "non_neg": (lambda: constraints.NonNeg(), "non_neg"),
}


@pytest.fixture(scope="module")
def stock_trained(tmp_path_factory):
    """Stock `keras.layers.Conv2D`s with each projection as `kernel_constraint`, after a few fit steps,
    saved and loaded with safe_mode=True."""
    keras.utils.set_random_seed(2)
    rng = np.random.default_rng(2)
    inputs = keras.Input((6, 6, 2))
    convs = {
        n: keras.layers.Conv2D(2, 3, kernel_constraint=make(), name=n) for n, (make, _) in PROJECTIONS.items()
    }
    model = keras.Model(inputs, [conv(inputs) for conv in convs.values()])
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
    before = {n: to_numpy(conv.kernel) for n, conv in convs.items()}
    x = rng.standard_normal((40, 6, 6, 2)).astype("float32")
    model.fit(x, [rng.standard_normal((40, 4, 4, 2)).astype("float32")] * len(convs), batch_size=8, verbose=0)
    path = tmp_path_factory.mktemp("stock") / "stock.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    return model, loaded, before, x


@pytest.mark.parametrize("name", sorted(PROJECTIONS))
def test_stock_conv_with_projection_keeps_the_constraint(stock_trained, name):
    model, _, before, _ = stock_trained
    kernel = to_numpy(model.get_layer(name).kernel)
    assert np.abs(kernel - before[name]).max() > 0.05, "did not train"
    assert check_invariant(PROJECTIONS[name][1], kernel) == []


@pytest.mark.parametrize("name", sorted(PROJECTIONS))
def test_stock_conv_with_projection_saves_and_loads(stock_trained, name):
    model, loaded, _, x = stock_trained
    original, copy = model.get_layer(name), loaded.get_layer(name)
    assert type(copy) is keras.layers.Conv2D
    assert type(copy.kernel_constraint) is type(original.kernel_constraint)
    assert copy.kernel_constraint.get_config() == original.kernel_constraint.get_config()
    index = list(PROJECTIONS).index(name)
    np.testing.assert_array_equal(to_numpy(loaded(x)[index]), to_numpy(model(x)[index]))
    # the loaded constraint still projects: onto the same set
    w = np.random.default_rng(3).standard_normal((3, 3, 2, 2)).astype("float32")
    np.testing.assert_allclose(
        to_numpy(copy.kernel_constraint(keras.ops.convert_to_tensor(w))),
        to_numpy(original.kernel_constraint(keras.ops.convert_to_tensor(w))),
        rtol=1e-6,
    )


@pytest.mark.parametrize("name", sorted(PROJECTIONS))
def test_projection_is_the_closed_form(name):
    """On two kernel shapes (the projection is built per shape), against NumPy."""
    projection = PROJECTIONS[name][0]()
    rng = np.random.default_rng(5)
    for shape in ((3, 3, 2, 2), (5, 3, 2, 2)):
        w = rng.standard_normal(shape).astype("float32")
        projected = projection(keras.ops.convert_to_tensor(w))
        assert_close(projected, reference_project(PROJECTIONS[name][1], w), what=name)
