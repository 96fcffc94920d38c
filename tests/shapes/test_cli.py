"""`structconv shapes`: the table for story 5, safe layer specs, errors, and no backend until needed."""

import json
import os
import subprocess
import sys

import keras
import pytest

from structconv import cli
from structconv.errors import StructconvError
from structconv.shapes.spec import layer_from_spec, parse_spec

STORY_5 = ["Conv2D(32, 7, strides=3, use_bias=False)", "Conv2D(64, 5, strides=2, use_bias=False)", "Flatten",
           "Dense(200, use_bias=False)", "Dense(150, use_bias=False)", "Dense(10, use_bias=False)"]
BACKEND_MODULES = ("keras", "tensorflow", "jax", "torch")


def run_cli(*args, timeout=180):
    """Runs `structconv.cli.main(args)` in a fresh Python; prints the backend modules loaded at exit."""
    code = (
        "import sys; from structconv.cli import main; code = main(sys.argv[1:]); "
        f"print('LOADED', sorted(m for m in {BACKEND_MODULES!r} if m in sys.modules)); sys.exit(code)"
    )
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ))


def test_story_5_table_via_python_m(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "structconv", "shapes", "--input", "28,28,1", *STORY_5, "--diagram",
         "--json", str(tmp_path / "rows.json")],
        capture_output=True, text=True, timeout=180, env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in ("(8, 8, 32)", "(2, 2, 64)", "(256,)", "2 * 2 * 64 = 256", "(7, 7, 1, 32)",
                     "floor((28 + 0 + 0 - 7) / 3) + 1 = 8", "floor((8 + 0 + 0 - 5) / 2) + 1 = 2",
                     "height drops inputs [7]", "256 inputs -> 200 units"):
        assert expected in out, expected
    assert "dropped                 ^" in out  # the diagram of the second layer
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert [row["output_shape"][1:] for row in rows][:3] == [[8, 8, 32], [2, 2, 64], [256]]
    assert [row["kernel_shape"] for row in rows][3] == [256, 200]


@pytest.mark.long
def test_saved_model(tmp_path):
    import structconv.layers as sc

    model = keras.Sequential([keras.Input((28, 28, 1)), sc.Conv2D(32, 7, strides=3, use_bias=False),
                              keras.layers.Conv2D(64, 5, strides=2, use_bias=False), keras.layers.Flatten(),
                              keras.layers.Dense(200, use_bias=False)], name="story5")
    path = tmp_path / "story5.keras"
    model.save(path)
    result = run_cli("shapes", str(path), "--backend", keras.backend.backend())
    assert result.returncode == 0, result.stderr
    assert all(text in result.stdout for text in ("story5", "(8, 8, 32)", "(2, 2, 64)", "(256,)"))


def test_saved_model_on_another_input_size(tmp_path, capsys):
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 7, strides=3),
                              keras.layers.Flatten(), keras.layers.Dense(3)])
    path = tmp_path / "model.keras"
    model.save(path)
    assert cli.main(["shapes", str(path), "--input", "31,31,1"]) == 2
    # The Dense layer no longer fits, and the message says why.
    assert "expected axis -1 of input shape to have value 256" in capsys.readouterr().err
    convolutional = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 7, strides=3)])
    convolutional.save(path)
    assert cli.main(["shapes", str(path), "--input", "31,31,1"]) == 0
    assert "(9, 9, 4)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "spec",
    ["__import__('os').system('touch {marker}')", "Conv2D(__import__('os').system('touch {marker}'))",
     "Conv2D(32, 7, strides=open('{marker}', 'w'))", "__import__('os')", "Lambda('touch {marker}')",
     "Conv2D(32, **{{'strides': 3}})", "Conv2D(32, 7).__class__", "Conv2D(32, 7", "Conv2D(x)"],
)
def test_code_in_a_spec_is_rejected_without_running_and_without_a_backend(tmp_path, spec):
    marker = tmp_path / "ran"
    result = run_cli("shapes", "--input", "28,28,1", "Flatten", spec.format(marker=marker))
    assert result.returncode == 2
    assert result.stderr.startswith("structconv shapes: error: ") and "Traceback" not in result.stderr
    assert not marker.exists()
    assert "LOADED []" in result.stdout


def test_help_loads_no_backend():
    result = run_cli("shapes", "--help")
    assert result.returncode == 0 and "--input" in result.stdout and "--diagram" in result.stdout
    # argparse exits on --help before run_cli's report: ask again with SystemExit caught.
    probe = subprocess.run(
        [sys.executable, "-c",
         "import sys, contextlib, io\nfrom structconv.cli import main\n"
         "with contextlib.redirect_stdout(io.StringIO()):\n"
         "    try: main(['shapes', '--help'])\n    except SystemExit: pass\n"
         f"print(sorted(m for m in {BACKEND_MODULES!r} if m in sys.modules))"],
        capture_output=True, text=True, timeout=60, env=dict(os.environ),
    )
    assert probe.stdout.strip() == "[]", probe.stderr


@pytest.mark.parametrize(
    "args, message",
    [(["--input", "28,28,1", "Conv9D(3)"], "Unknown layer 'Conv9D'"),
     (["--input", "28,28,1", "Conv2D(32, 7, padding='sam')"], "Invalid `padding`: received 'sam'"),
     (["--input", "28,28,1", "Conv2D('many', 7)"], "Invalid arguments in layer spec"),
     (["--input", "8,8,1", "Conv2D(3, 9)"], "window spans 9 inputs"),
     (["--input", "28,x,1", "Flatten"], "--input received '28,x,1'"),
     (["Flatten"], "--input is required"),
     (["missing.keras"], "no model file 'missing.keras'")],
)
def test_errors_are_messages_with_a_non_zero_exit(args, message, capsys):
    assert cli.main(["shapes", *args]) == 2
    assert message in capsys.readouterr().err


def test_the_command_is_registered_and_demo_kept():
    assert [command.name for command in cli.COMMANDS][:2] == ["demo", "shapes"]


def test_parse_spec():
    assert parse_spec(" Conv2D(32, 7, strides=(3, 3), padding='same', use_bias=False) ") == (
        "Conv2D", [32, 7], {"strides": (3, 3), "padding": "same", "use_bias": False}
    )
    assert parse_spec("Reshape((-1, 4))") == ("Reshape", [(-1, 4)], {})
    for bad in ("", "1 + 2", "Conv2D(32)(x)", "keras.layers.Dense(3)", "Dense(units=3 if True else 4)",
                "Dense(*[3])", "_Private()", "TFSMLayer('/tmp/model')", None):
        with pytest.raises(StructconvError, match="spec"):
            parse_spec(bad)


def test_layer_from_spec_prefers_structconv_layers():
    import structconv.layers as sc

    assert type(layer_from_spec("Conv4D(2, 3)")) is sc.Conv4D
    assert type(layer_from_spec("Conv2D(2, 3)")) is sc.Conv2D
    assert type(layer_from_spec("BatchNormalization(axis=1)")) is keras.layers.BatchNormalization
    with pytest.raises(StructconvError, match="Unknown layer 'Input'"):
        layer_from_spec("Input((3,))")
