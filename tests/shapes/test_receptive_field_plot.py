"""`structconv shapes --plot`: the picture of one output's receptive field, from specs and from a model."""

import keras
import pytest

from structconv import cli
from structconv.shapes import receptive_field

STORY_5 = ["Conv2D(32, 7, strides=3)", "Conv2D(64, 5, strides=2)", "Flatten", "Dense(10)"]


def test_plot_of_specs_names_the_region_it_draws(tmp_path, capsys):
    path = tmp_path / "field.png"
    assert cli.main(["shapes", "--input", "28,28,1", *STORY_5, "--plot", str(path), "--position", "1,0"]) == 0
    out = capsys.readouterr().out
    expected = receptive_field(STORY_5[:2], input_shape=(28, 28, 1)).region((1, 0))
    assert f"the receptive field of conv2d_1 at (1, 0), input region {expected}" in out
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_of_a_saved_branching_3d_model(tmp_path, capsys):
    inputs = keras.Input((6, 7, 8, 1))
    x = keras.layers.Conv3D(2, 3, padding="same")(inputs)
    y = keras.layers.AveragePooling3D(3, strides=1, padding="same")(inputs)
    merged = keras.layers.Concatenate()([x, y])
    outputs = keras.layers.Conv3D(2, 2, strides=2)(merged)
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "model.keras")
    path = tmp_path / "field.png"
    assert cli.main(["shapes", str(tmp_path / "model.keras"), "--plot", str(path), "--axis", "2",
                     "--receptive-field"]) == 0
    out = capsys.readouterr().out
    assert f"the receptive field of {model.layers[-1].name} at (1, 1, 1)" in out
    assert "jump 2 x 2 x 2" in out  # the table's receptive-field column
    assert path.stat().st_size > 0


@pytest.mark.parametrize("args, message", [
    (["--position", "5,0"], "Invalid `position`: received (5, 0)"),
    (["--position", "a"], "--position received 'a'"),
    (["--axis", "3"], "Invalid `axis`: received 3"),
])
def test_bad_plot_arguments_are_messages(tmp_path, capsys, args, message):
    command = ["shapes", "--input", "28,28,1", *STORY_5, "--plot", str(tmp_path / "f.png"), *args]
    assert cli.main(command) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("input_shape, spec", [("None,10,1", "Conv2D(2, 3)"), ("10", "Dense(2)")])
def test_a_plot_needs_spatial_axes_of_known_sizes(tmp_path, capsys, input_shape, spec):
    assert cli.main(["shapes", "--input", input_shape, spec, "--plot", str(tmp_path / "f.png")]) == 2
    assert "spatial axes of known sizes" in capsys.readouterr().err
