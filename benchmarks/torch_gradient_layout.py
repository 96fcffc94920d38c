"""PyTorch 2-D training steps on channels_last data: the input as it is (channels-last memory) against a
channels-first copy, next to Keras's own convolution.

    flock /tmp/structconv-bench.lock .venv/bin/python benchmarks/torch_gradient_layout.py [--quick]

torch runs a channels_last tensor moved to `(N, C, H, W)` as channels-last memory, and oneDNN's gradient
of such a 2-D convolution can leave its fast path past some kernel size (on the 2-vCPU AMD EPYC without
AVX-512 this project runs on: from 14x14 taps). The planner offers a channels-first copy of the input as a
candidate of such training steps (`_backend/torch.py`, `CHANNELS_FIRST_COPY_RANKS`).

Cases (float32, channels_last, padding "same", stride 1): kernels before and past that threshold, 4-32
channels. Implementations, each a training step (forward, then the gradients w.r.t. input and kernel of
`sum(y * g)`), eager:
- `keras.ops.conv`: what `keras.layers.Conv2D` calls;
- `structconv, input as is`: the plan `direct:native`, forced;
- `structconv, copy`: the plan `direct:channels_first`, forced;
- `structconv direct`: `structconv.ops.conv(..., algorithm="direct")`, the planner measuring between the
  two (autotune "uncertain", a fresh plan cache);
- `structconv auto`: `algorithm="auto"` (FFT plans too).
Interleaved rounds after two warm-up rounds (the planner measures in the first), medians; ratios to
`keras.ops.conv` in the same run.

Then the same inside `fit`: epochs of a one-layer model (16 samples of 64^2 x 16, batch 2, a 15x15 kernel,
16 filters, SGD) with `keras.layers.Conv2D` and structconv's `layers.Conv2D`, `algorithm="direct"` and
`"auto"` (the first epoch measures), three epochs each.
"""

import json
import os
import sys
import tempfile

import numpy as np
from environment import (  # noqa: E402
    fit_epoch_seconds,
    machine,
    measure_interleaved,
    quick_or_full_options,
    versions,
)

# (batch, size, channels, kernel size)
CASES = [(2, 64, 16, 15), (1, 96, 8, 21), (2, 48, 32, 17), (1, 64, 4, 14), (1, 64, 4, 13), (2, 128, 8, 7)]
QUICK_CASES = [(1, 32, 4, 15), (1, 32, 4, 5)]


def implementations(problem_of):
    import keras

    from structconv import ops as sops
    from structconv.ops.execute import execute
    from structconv.ops.plan import Plan

    def forced(method):
        plan = Plan("direct", direct=method, source="forced")
        return lambda x, kernel: execute(plan, problem_of(x, kernel), x, kernel)

    return {
        "keras.ops.conv": lambda x, kernel: keras.ops.conv(x, kernel, 1, "same"),
        "structconv, input as is": forced("native"),
        "structconv, copy": forced("channels_first"),
        "structconv direct": lambda x, kernel: sops.conv(x, kernel, padding="same", algorithm="direct"),
        "structconv auto": lambda x, kernel: sops.conv(x, kernel, padding="same", algorithm="auto"),
    }


def _training_step(forward, x, kernel, cotangent):
    def call():
        x.grad = kernel.grad = None
        (forward(x, kernel) * cotangent).sum().backward()

    return call


def run(cases, rounds):
    os.environ["KERAS_BACKEND"] = "torch"
    os.environ.setdefault("STRUCTCONV_CACHE_DIR", tempfile.mkdtemp(prefix="structconv-bench-"))
    import torch

    from structconv import config
    from structconv.ops.arguments import conv_arguments
    from structconv.ops.conv import prepare_conv

    config.set_autotune("uncertain")
    args = conv_arguments(2, 1, "same")

    def problem_of(x, kernel):
        return prepare_conv(x, kernel, args, True)[0]

    records = []
    for batch, size, channels, k in cases:
        rng = np.random.default_rng(0)
        x = torch.tensor(rng.standard_normal((batch, size, size, channels), np.float32), requires_grad=True)
        kernel = torch.tensor(rng.standard_normal((k, k, channels, channels), np.float32) / k,
                              requires_grad=True)
        cotangent = torch.tensor(rng.standard_normal((batch, size, size, channels), np.float32))

        steps = {name: _training_step(f, x, kernel, cotangent)
                 for name, f in implementations(problem_of).items()}
        seconds = measure_interleaved(steps, rounds)
        name = f"2-D {batch} x {size}^2 x {channels}, k={k}"
        base = seconds["keras.ops.conv"]
        print(f"{name}: " + ", ".join(f"{impl} {s * 1e3:.1f} ms ({s / base:.2f}x)"
                                      for impl, s in seconds.items()), file=sys.stderr, flush=True)
        records.append({"case": name, "ms": {impl: round(s * 1e3, 2) for impl, s in seconds.items()}})
    return records


def fit_epochs(epochs=3, samples=16):
    import keras

    from structconv import layers

    rng = np.random.default_rng(0)
    x = rng.random((samples, 64, 64, 16), np.float32)
    y = rng.random((samples, 64, 64, 16), np.float32)
    found = {}
    candidates = (("keras.layers.Conv2D", keras.layers.Conv2D(16, 15, padding="same")),
                  ("structconv Conv2D direct", layers.Conv2D(16, 15, padding="same", algorithm="direct")),
                  ("structconv Conv2D auto", layers.Conv2D(16, 15, padding="same")))
    for name, layer in candidates:
        model = keras.Sequential([keras.Input((64, 64, 16)), layer])
        model.compile("sgd", "mse")
        seconds = fit_epoch_seconds(model, x, y, 2, epochs)
        print(f"fit, {samples // 2} steps of 2 x 64^2 x 16, k=15: {name}: epochs "
              + ", ".join(f"{s:.2f} s" for s in seconds), file=sys.stderr, flush=True)
        found[name] = seconds
    return found


def main():
    options = quick_or_full_options(__doc__.split("\n")[0], 5)
    records = run(QUICK_CASES if options.quick else CASES, options.rounds)
    epochs = fit_epochs(2, 4) if options.quick else fit_epochs()
    import torch

    print(json.dumps({"machine": machine(), "threads": torch.get_num_threads(),
                      "versions": versions(("keras", "torch", "numpy")), "records": records,
                      "fit_epoch_seconds": epochs}, indent=1))


if __name__ == "__main__":
    main()
