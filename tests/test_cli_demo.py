"""The command line, and `structconv demo --quick` on this test run's backend (`KERAS_BACKEND`)."""

import os
import re
import subprocess
import sys

import pytest

from structconv import cli


def run_python(*args, timeout=120, **environment):
    """Runs a fresh Python with this test run's environment (so the same Keras backend), and `environment`."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, **environment),
    )


def test_importing_the_cli_imports_no_keras():
    result = run_python(
        "-c",
        "import sys, structconv.cli, structconv.demo; "
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_python_m_structconv_help_lists_the_commands():
    result = run_python("-m", "structconv", "--help")
    assert result.returncode == 0, result.stderr
    assert all(command.name in result.stdout for command in cli.COMMANDS)


def test_no_command_prints_help_and_fails(capsys):
    assert cli.main([]) == 2
    assert "usage: structconv" in capsys.readouterr().out


def test_backend_cannot_change_once_keras_is_loaded(monkeypatch):
    import keras

    monkeypatch.setenv("KERAS_BACKEND", keras.backend.backend())
    other = next(name for name in cli.BACKENDS if name != keras.backend.backend())
    error = cli.configure_environment(other)
    assert error is not None and "fresh process" in error
    assert os.environ["KERAS_BACKEND"] == keras.backend.backend()


@pytest.mark.long
@pytest.mark.timeout(600)
def test_quick_demo_writes_a_report_and_learns(tmp_path):
    import keras

    result = run_python(
        "-c",
        "import sys; from structconv.cli import main; sys.exit(main(sys.argv[1:]))",
        "demo",
        "--quick",
        "--output",
        str(tmp_path),
        timeout=600,
        # The demo's results do not depend on plans, and measuring them from the tests' empty cache
        # directory took the JAX run from about 70 s to 195 s (measuring is tested in tests/tuning).
        STRUCTCONV_AUTOTUNE="off",
        # The demo trains models: under JAX, XLA's optimisations (which `make test` turns off for the
        # tests' tiny shapes) pay for themselves here, 78 s against 100 s on the 2-core VM.
        JAX_DISABLE_MOST_OPTIMIZATIONS="0",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = (tmp_path / "REPORT.md").read_text()
    assert f"backend **{keras.backend.backend()}**" in report
    figures = sorted(path.name for path in tmp_path.glob("*.png"))
    assert figures, "no figure written"
    assert all(f"({name})" in report for name in figures)
    accuracy = float(re.search(r"held-out accuracy: ([0-9.]+)", result.stdout).group(1))
    assert accuracy > 1 / 6 + 0.2
