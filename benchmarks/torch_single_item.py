"""PyTorch 3-D convolutions of a single item: the input as it is against two halves stacked along the batch
(`structconv.ops.halves`), next to Keras's own convolution.

    flock /tmp/structconv-bench.lock .venv/bin/python benchmarks/torch_single_item.py [--quick]

ATen sends a float32 3-D convolution of one item whose kernel has at most 3 taps along one of its last two
axes, and whose `channels * depth * height` is at most 20480, to its own loops instead of oneDNN, which the
same convolution of two items gets. A 3-D U-Net's layers at batch 1 (inference on a volume, or training on
one) are such convolutions. The planner offers the halves as a candidate there (`_backend/torch.py`,
`slow_single_item`), which measuring times beside the convolution as it is.

Cases (float32, channels_last, stride 1, batch 1): 3x3x3 kernels, 1-16 input channels, 24^3-128^3.
Implementations, forward (no gradient) and a training step (forward, then the gradients w.r.t. input and
kernel of `sum(y * g)`), eager:
- `keras.ops.conv`: what `keras.layers.Conv3D` calls;
- `structconv, as is`: the plan `direct:native`, forced;
- `structconv, halves`: the plan `direct:halves`, forced;
- `structconv auto`: `structconv.ops.conv(...)` as a user calls it (autotune "uncertain", a fresh plan
  cache: it measures in the warm-up rounds, FFT plans too).
Interleaved rounds after two warm-up rounds, medians; ratios to `keras.ops.conv` in the same run.
"""

import argparse
import json
import os
import sys
import tempfile

import numpy as np
from environment import machine, measure_interleaved, versions  # noqa: E402

# (size, channels, filters, padding)
CASES = [(128, 1, 8, "same"), (96, 2, 8, "same"), (64, 4, 16, "same"), (50, 6, 6, "valid"),
         (50, 8, 8, "valid"), (32, 16, 16, "same"), (24, 8, 8, "same"), (48, 1, 1, "same")]
QUICK_CASES = [(24, 8, 8, "same"), (32, 1, 4, "same")]


def implementations(problem_of, padding):
    import keras

    from structconv import ops as sops
    from structconv.ops.execute import execute
    from structconv.ops.plan import Plan

    def forced(method):
        plan = Plan("direct", direct=method, source="forced")
        return lambda x, kernel, training: execute(plan, problem_of(x, kernel, padding, training), x, kernel)

    return {
        "keras.ops.conv": lambda x, kernel, training: keras.ops.conv(x, kernel, 1, padding),
        "structconv, as is": forced("native"),
        "structconv, halves": forced("halves"),
        "structconv auto": lambda x, kernel, training: sops.conv(x, kernel, padding=padding),
    }


def _step(f, x, kernel, cotangent, training):
    import torch

    def call():
        if not training:
            with torch.no_grad():
                return f(x, kernel, False)
        x.grad = kernel.grad = None
        (f(x, kernel, True) * cotangent).sum().backward()

    return call


def run(cases, rounds):
    os.environ["KERAS_BACKEND"] = "torch"
    os.environ.setdefault("STRUCTCONV_CACHE_DIR", tempfile.mkdtemp(prefix="structconv-bench-"))
    import torch

    from structconv import config
    from structconv.ops import planner
    from structconv.ops.arguments import conv_arguments
    from structconv.ops.conv import prepare_conv

    config.set_autotune("uncertain")

    def problem_of(x, kernel, padding, training):
        return prepare_conv(x, kernel, conv_arguments(3, 1, padding), training)[0]

    records = []
    for size, channels, filters, padding in cases:
        rng = np.random.default_rng(0)
        x = torch.tensor(rng.standard_normal((1, size, size, size, channels), np.float32))
        kernel = torch.tensor(rng.standard_normal((3, 3, 3, channels, filters), np.float32) / 9)
        out = size if padding == "same" else size - 2
        cotangent = torch.tensor(rng.standard_normal((1, out, out, out, filters), np.float32))
        impls = implementations(problem_of, padding)
        for mode in ("forward", "training"):
            training = mode == "training"
            x.requires_grad_(training)
            kernel.requires_grad_(training)

            steps = {name: _step(f, x, kernel, cotangent, training) for name, f in impls.items()}
            seconds = measure_interleaved(steps, rounds)
            name = f"3-D 1 x {size}^3, {channels} -> {filters}, k=3, {padding}, {mode}"
            base = seconds["keras.ops.conv"]
            chosen = planner.plan_conv(problem_of(x, kernel, padding, training)).label
            print(f"{name}: " + ", ".join(f"{impl} {s * 1e3:.1f} ms ({s / base:.2f}x)"
                                          for impl, s in seconds.items()) + f"; auto ran {chosen}",
                  file=sys.stderr, flush=True)
            records.append({"case": name, "ms": {impl: round(s * 1e3, 2) for impl, s in seconds.items()},
                            "auto_plan": chosen})
    return records


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args()
    records = run(QUICK_CASES if options.quick else CASES, 2 if options.quick else options.rounds)
    import torch

    print(json.dumps({"machine": machine(), "threads": torch.get_num_threads(),
                      "versions": versions(("keras", "torch", "numpy")), "records": records}, indent=1))


if __name__ == "__main__":
    main()
