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
        "--quick", action="store_true", help="small data and few epochs (about a minute)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("structconv-demo"),
        metavar="DIR",
        help="folder for REPORT.md and the figures (default: ./structconv-demo)",
    )
    parser.add_argument(
        "--scenarios",
        default=None,
        metavar="NAMES",
        help="comma-separated scenarios to run, in this order (default: all; see REPORT.md for names)",
    )
    _add_backend_argument(parser)


def _run_demo(args):
    from structconv.demo import SCENARIOS, run_demo

    scenarios = SCENARIOS
    if args.scenarios is not None:
        scenarios = tuple(name.strip() for name in args.scenarios.split(",") if name.strip())
        unknown = [name for name in scenarios if name not in SCENARIOS]
        if unknown or not scenarios:
            print(
                f"structconv demo: error: --scenarios received {args.scenarios!r}; "
                f"allowed: a comma-separated list of {', '.join(SCENARIOS)}",
                file=sys.stderr,
            )
            return 2
    return run_demo(args.output, quick=args.quick, scenarios=scenarios)


# --- structconv shapes ---------------------------------------------------------------------------


def _shapes_arguments(parser):
    parser.add_argument(
        "layers",
        nargs="+",
        metavar="LAYER_OR_MODEL",
        help="layer specs such as \"Conv2D(32, 7, strides=3)\" or Flatten (literal arguments only; names "
        "from structconv.layers, then keras.layers), or one saved model file (.keras)",
    )
    parser.add_argument(
        "--input",
        default=None,
        metavar="SHAPE",
        help="input shape without the batch axis, e.g. 28,28,1 (required with layer specs; for a model it "
        "replaces the model's own, e.g. 64,64,3 for a fully convolutional one)",
    )
    parser.add_argument(
        "--diagram", action="store_true", help="also draw the windows of each convolution and pooling axis"
    )
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the rows as JSON")
    parser.add_argument(
        "--receptive-field", action="store_true",
        help="add each layer's receptive field per axis (size, jump, start) to the table",
    )
    parser.add_argument(
        "--plot", type=Path, default=None, metavar="FILE.png",
        help="draw the input region one output sees and the windows of each layer along one axis",
    )
    parser.add_argument(
        "--position", default=None, metavar="I,J,...",
        help="with --plot: the output position of the last layer with spatial outputs (default: the centre)",
    )
    parser.add_argument("--axis", type=int, default=0, help="with --plot: the spatial axis of the windows")
    _add_backend_argument(parser)


def _shapes_error(message):
    print(f"structconv shapes: error: {message}", file=sys.stderr)
    return 2


def _parse_input_shape(text, minimum=1):
    sizes = []
    for part in text.replace("(", "").replace(")", "").split(","):
        part = part.strip()
        if part.lower() in ("none", "?") and minimum > 0:
            sizes.append(None)
        elif part.isdigit() and int(part) >= minimum:
            sizes.append(int(part))
        elif part:
            return None
    return tuple(sizes) or None


def _run_shapes(args):
    # Everything that can be checked without Keras is checked first: a bad spec never loads a backend.
    from structconv.errors import StructconvError
    from structconv.shapes.spec import parse_spec

    input_shape = None
    if args.input is not None:
        input_shape = _parse_input_shape(args.input)
        if input_shape is None:
            return _shapes_error(
                f"--input received {args.input!r}; expected sizes > 0 separated by commas, e.g. 28,28,1"
            )
    model_path = None
    if len(args.layers) == 1 and args.layers[0].endswith((".keras", ".h5")):
        model_path = Path(args.layers[0])
        if not model_path.is_file():
            return _shapes_error(f"no model file {str(model_path)!r}")
    else:
        try:
            for text in args.layers:
                parse_spec(text)
        except StructconvError as error:
            return _shapes_error(str(error))
        if input_shape is None:
            return _shapes_error("--input is required with layer specs, e.g. --input 28,28,1")

    plot = None
    if args.plot is not None:
        position = None
        if args.position is not None:
            position = _parse_input_shape(args.position, minimum=0)
            if position is None:
                return _shapes_error(f"--position received {args.position!r}; expected indices >= 0 "
                                     "separated by commas, e.g. 1,0")
        plot = (args.plot, position, args.axis)
    from structconv.shapes.command import explain_shapes

    try:
        return explain_shapes(args.layers, model_path, input_shape, diagram=args.diagram, json_path=args.json,
                              receptive_field=args.receptive_field, plot=plot)
    except (StructconvError, ValueError, TypeError) as error:
        return _shapes_error(str(error))


def _calibrate_arguments(parser):
    from structconv.tuning.command import add_arguments

    add_arguments(parser)
    _add_backend_argument(parser)


def _run_calibrate(args):
    from structconv.tuning.command import run

    return run(args)


COMMANDS = (
    Command(
        "demo",
        "run the user-story scenarios and write REPORT.md with figures",
        _demo_arguments,
        _run_demo,
    ),
    Command(
        "shapes",
        "explain each layer's output shape: per-axis arithmetic, kernels, parameters, window diagrams",
        _shapes_arguments,
        _run_shapes,
    ),
    Command(
        "calibrate",
        "fit the cost model of algorithm='auto' to this machine (about 3 minutes per backend)",
        _calibrate_arguments,
        _run_calibrate,
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
