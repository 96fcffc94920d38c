"""What structconv adds to a small eager convolution: `structconv.ops.conv` ("auto" and "direct") against
`keras.ops.conv` on the same tensors, per call, on every backend.

    .venv/bin/python benchmarks/eager_overhead.py [--quick] [--complex | --layers] [--rounds 9]
        [--backends jax,tensorflow,torch]

A loop of eager calls on small shapes (a script, a custom training loop's layer outside `jit`) pays for
every line of Python around the convolution: the argument checks, the problem and its plan, the staging.
Each case times `CALLS` calls in a row per sample (JAX waits for each result: `block_until_ready`), in
interleaved rounds; the table gives microseconds per call (the median sample) and the ratio to
`keras.ops.conv`. Measured planning is on as by default ("auto" measures in its warm-up calls where the
model is unsure) without plan files (`measure_afresh`). Shapes: padding "same", float32, channels_last.

`--complex`: `structconv.ops.complex_conv` of `(real, imag)` pairs against the same by hand, four
`keras.ops.conv` calls (`re = a*c - b*d`, `im = a*d + b*c`), what a user writes without structconv, and
`complex_conv_transpose` (stride 2) against four `keras.ops.conv_transpose` calls.
`--layers` (ranks 1-3): `structconv.layers.ConvND` against the Keras layer it replaces
(`keras.layers.Conv1D`-`Conv3D`, the same arguments): an eager call, and one `train_on_batch` step of a
one-layer model compiled without `jit_compile` (torch's Keras trainer runs such steps eagerly); `CALLS`
/ 10 steps a sample.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from environment import machine, measure_afresh, medians_and_minima, run_worker_process, versions  # noqa: E402

# (rank, size, kernel size, batch, channels, filters)
CASES = ((1, 64, 3, 2, 4, 4), (1, 256, 9, 1, 1, 1), (1, 512, 5, 8, 16, 16), (2, 16, 3, 2, 4, 4),
         (2, 32, 3, 8, 16, 16), (2, 28, 5, 1, 1, 8), (3, 8, 3, 1, 2, 2), (3, 12, 3, 2, 8, 8))
QUICK_CASES = CASES[:1] + CASES[3:4]
CALLS = 200
IMPLS = ("keras.ops.conv", "structconv auto", "structconv direct")
COMPLEX_IMPLS = ("keras.ops.conv x4", "structconv complex_conv", "keras.ops.conv_transpose x4",
                 "structconv complex_conv_transpose")
LAYER_IMPLS = ("keras layer", "structconv layer", "keras step", "structconv step")
# The implementation each one's ratio is to (else the first).
BASES = {"structconv step": "keras step",
         "structconv complex_conv_transpose": "keras.ops.conv_transpose x4"}


def complex_calls(keras, ops, rng, shapes):
    """The `--complex` calls on `(real, imag)` pairs of the input and kernel shapes."""
    x_shape, k_shape = shapes
    a, b = (keras.ops.convert_to_tensor(rng.standard_normal(x_shape), "float32") for _ in range(2))
    c, d = (keras.ops.convert_to_tensor(rng.standard_normal(k_shape), "float32") for _ in range(2))

    # The transposed convolutions' kernels: (*kernel_size, filters, channels) of the same sizes.
    e, f = (keras.ops.convert_to_tensor(rng.standard_normal((*k_shape[:-2], k_shape[-1], k_shape[-2])),
                                        "float32") for _ in range(2))

    def by_hand(conv, x, y, k, m):
        return (keras.ops.subtract(conv(x, k), conv(y, m)), keras.ops.add(conv(x, m), conv(y, k)))

    def conv(x, k):
        return keras.ops.conv(x, k, padding="same")

    def transpose(x, k):
        return keras.ops.conv_transpose(x, k, 2, padding="same")

    return {"keras.ops.conv x4": lambda: by_hand(conv, a, b, c, d),
            "structconv complex_conv": lambda: ops.complex_conv((a, b), (c, d), padding="same"),
            "keras.ops.conv_transpose x4": lambda: by_hand(transpose, a, b, e, f),
            "structconv complex_conv_transpose": lambda: ops.complex_conv_transpose((a, b), (e, f), 2,
                                                                                    padding="same")}


def layer_calls(keras, x, kernel_size, filters):
    """The `--layers` calls: each layer called on `x`, and a step of a model of it."""
    import numpy as np

    import structconv

    rank = len(x.shape) - 2
    calls, repeats = {}, {}
    for owner, module in (("keras", keras.layers), ("structconv", structconv.layers)):
        layer = getattr(module, f"Conv{rank}D")(filters, kernel_size, padding="same")
        layer(x)
        calls[f"{owner} layer"] = lambda layer=layer: layer(x)
        model = keras.Sequential([keras.Input(tuple(x.shape[1:])),
                                  getattr(module, f"Conv{rank}D")(filters, kernel_size, padding="same")])
        model.compile("sgd", "mse", jit_compile=False)
        inputs = np.asarray(x)
        target = np.zeros((inputs.shape[0], *model.output_shape[1:]), "float32")
        calls[f"{owner} step"] = lambda m=model, x=inputs, y=target: m.train_on_batch(x, y)
        repeats[f"{owner} step"] = CALLS // 10
    return calls, repeats


def worker(cases, rounds, mode=None):
    import keras
    import numpy as np

    from structconv import ops

    measure_afresh()
    jax = keras.backend.backend() == "jax"
    rng = np.random.default_rng(0)
    records = []
    names = {"complex": COMPLEX_IMPLS, "layers": LAYER_IMPLS}.get(mode, IMPLS)
    for rank, size, kernel_size, batch, channels, filters in cases:
        shapes = ((batch, *(size,) * rank, channels), (*(kernel_size,) * rank, channels, filters))
        x = keras.ops.convert_to_tensor(rng.standard_normal((batch, *(size,) * rank, channels)), "float32")
        k = keras.ops.convert_to_tensor(rng.standard_normal((*(kernel_size,) * rank, channels, filters)),
                                        "float32")
        calls = {"keras.ops.conv": lambda x=x, k=k: keras.ops.conv(x, k, padding="same"),
                 "structconv auto": lambda x=x, k=k: ops.conv(x, k, padding="same"),
                 "structconv direct": lambda x=x, k=k: ops.conv(x, k, padding="same", algorithm="direct")}
        repeats = {}
        if mode == "complex":
            calls = complex_calls(keras, ops, rng, shapes)
        elif mode == "layers":
            calls, repeats = layer_calls(keras, x, kernel_size, filters)

        def looped(call, count=CALLS):
            def run():
                for _ in range(count):
                    y = call()
                    if jax:  # (a train step returns its loss as a Python float)
                        keras.tree.map_structure(lambda part: getattr(part, "block_until_ready", int)(), y)
            return run

        counts = {name: repeats.get(name, CALLS) for name in calls}
        medians, _ = medians_and_minima({name: looped(call, counts[name]) for name, call in calls.items()},
                                        rounds)
        us = {name: medians[name] / counts[name] * 1e6 for name in names}
        case = f"{rank}-D {size}^{rank}, k={kernel_size}, {batch} x {channels} -> {filters}"
        print(f"{case}: " + ", ".join(f"{n} {t:.1f} us" for n, t in us.items()), file=sys.stderr, flush=True)
        records.append({"backend": keras.backend.backend(), "case": case,
                        "us": {name: round(t, 1) for name, t in us.items()}})
    for record in records:
        print(json.dumps(record))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--complex", action="store_const", const="complex", dest="mode",
                      help="complex_conv against four keras.ops.conv")
    mode.add_argument("--layers", action="store_const", const="layers", dest="mode",
                      help="structconv's layers against Keras's")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--backends", default="jax,tensorflow,torch")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    options = parser.parse_args()
    cases = QUICK_CASES if options.quick else CASES
    if options.worker:
        worker(cases, options.rounds, options.mode)
        return
    arguments = (["--rounds", str(options.rounds)] + (["--quick"] if options.quick else [])
                 + ([f"--{options.mode}"] if options.mode else []))
    names = {"complex": COMPLEX_IMPLS, "layers": LAYER_IMPLS}.get(options.mode, IMPLS)
    print(f"Machine: {machine()}; {versions(('keras', 'jax', 'tensorflow', 'torch'))}")
    print(f"\n| backend | case | {names[0]} us | "
          + " | ".join(f"{n} us" + ("" if n in BASES.values() else " (ratio)") for n in names[1:]) + " |")
    print("|---|---|---|" + "---|" * (len(names) - 1))
    for backend in options.backends.split(","):
        records, _ = run_worker_process(__file__, backend, arguments, timeout=1800)
        for r in records:
            us = r["us"]
            others = " | ".join(f"{us[n]:.1f}" + ("" if n in BASES.values() else
                                                  f" ({us[n] / us[BASES.get(n, names[0])]:.2f}x)")
                                for n in names[1:])
            print(f"| {backend} | {r['case']} | {us[names[0]]:.1f} | {others} |", flush=True)


if __name__ == "__main__":
    main()
