"""The `structconv` command line: `structconv <command> [options]`.

Each command is one `Command` in `COMMANDS`: a name, a one-line help, a function that adds its
options to an `argparse` parser and a function that runs it and returns an exit code. Adding a
command is writing those two functions and one `Command(...)` line.

Importing this module imports no Keras backend: a command imports what it needs when it runs, after
`--backend` has set `KERAS_BACKEND` (Keras reads that variable once, when it is first imported).
"""

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BACKENDS = ("tensorflow", "jax", "torch")


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def configure_environment(backend):
    """Sets what must be set before Keras and its backend are imported; returns an error or `None`.

    `backend` (or, for `None`, `$KERAS_BACKEND` or Keras's default) becomes the backend Keras loads.
    Variables the user has set are left as they are.
    """
    if backend is not None:
        loaded = sys.modules.get("keras")
        if loaded is not None and loaded.backend.backend() != backend:
            return (
                f"Keras is already loaded with backend {loaded.backend.backend()!r}; "
                f"--backend {backend} needs a fresh process."
            )
        os.environ["KERAS_BACKEND"] = backend
    # JAX computes in float32 unless x64 is on from the start; float32 models are unaffected by it.
    if os.environ.get("KERAS_BACKEND") == "jax":
        os.environ.setdefault("JAX_ENABLE_X64", "1")
    # PyTorch's OpenMP threads spin while they wait for work; on a busy machine (a 2-core CI runner,
    # a parallel test run) that made the demo about 5 times slower. Sleeping threads cost nothing.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # TensorFlow's C++ start-up notices are noise on a terminal.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return None


def _add_backend_argument(parser):
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="Keras backend (default: $KERAS_BACKEND, else ~/.keras/keras.json, else tensorflow)",
    )


# --- structconv demo -----------------------------------------------------------------------------


def _demo_arguments(parser):
    parser.add_argument(
        "--quick", action="store_true", help="small data and few epochs (under a minute)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("structconv-demo"),
        metavar="DIR",
        help="folder for REPORT.md and the figures (default: ./structconv-demo)",
    )
    _add_backend_argument(parser)


def _run_demo(args):
    from structconv.demo import run_demo

    return run_demo(args.output, quick=args.quick)


COMMANDS = (
    Command(
        "demo",
        "run the user-story scenarios and write REPORT.md with figures",
        _demo_arguments,
        _run_demo,
    ),
)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="structconv",
        description="Structured N-dimensional convolution for Keras 3 (TensorFlow, JAX, PyTorch).",
    )
    from structconv import __version__

    parser.add_argument("--version", action="version", version=f"structconv {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        subparser = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(subparser)
        subparser.set_defaults(run=command.run)
    return parser


def main(argv=None):
    """Runs the command line with `argv` (default: `sys.argv[1:]`) and returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    error = configure_environment(getattr(args, "backend", None))
    if error:
        print(f"structconv {args.command}: {error}", file=sys.stderr)
        return 2
    return args.run(args)
