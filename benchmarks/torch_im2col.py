"""PyTorch 1-D and 2-D convolutions of few channels on the CPU: oneDNN (the convolution torch runs) against
ATen's own im2col convolution (`direct:im2col`, `_backend/torch_conv.py`'s `conv_im2col`), next to Keras's op.

    flock /tmp/structconv-bench.lock .venv/bin/python benchmarks/torch_im2col.py [--quick]

torch hands float32 convolutions on the CPU to oneDNN, which runs some of those with one to four channels on
its reference loops (`ONEDNN_VERBOSE=1` prints `ref:any`): a 1-D 2367-sample k=79 2 -> 2 forward at batch
2 took 3.8 ms where the same at 4096 samples took 0.36 ms, and ATen's im2col convolution 0.32 ms. With more
channels, and on channels_last 2-D images, oneDNN's own kernels win. The planner offers the im2col
convolution beside torch's where `im2col_helps` says, and "auto" times both.

Cases: float32, 1-D signals (channels_last, Keras's default, and channels_first) and 2-D images
(channels_first, where the planner offers it, and two channels_last ones, where it does not) of 1-4
channels on one side (16 -> 1, 1 -> 16, 3 -> 16 ...), batch 2-16. Implementations, forward (no gradient)
and a training step (forward, then the gradients w.r.t. input and kernel of `sum(y * g)`), eager:
- `keras.ops.conv`: what `keras.layers.Conv1D`/`Conv2D` call;
- `structconv, torch's conv`: the plan `direct:native`, forced;
- `structconv, im2col`: the plan `direct:im2col`, forced;
- `structconv auto`: `structconv.ops.conv(...)` as a user calls it (autotune "uncertain", a fresh plan
  cache: it measures in the warm-up rounds, FFT plans too).
Interleaved rounds after two warm-up rounds, medians; ratios to Keras's op in the same run.

Then a whole network on two-channel signals (2367 samples: a 79-tap convolution 2 -> 2, a 31-tap one 2 -> 4,
global average pooling, a dense layer; channels_last) built from `keras.layers` and from
`structconv.layers`: epochs of `fit` on 64 signals at batch 2 and at batch 8 (the first measures).
"""

import json
import os
import sys
import tempfile

import numpy as np
from environment import fit_epoch_seconds, machine, quick_or_full_options, torch_modes, versions  # noqa: E402

# (rank, size, kernel size, batch, channels, filters, data format)
CASES = [(1, 2367, 79, 2, 2, 2, "channels_last"), (1, 1024, 255, 4, 2, 2, "channels_last"),
         (1, 4096, 31, 4, 1, 1, "channels_last"), (1, 16384, 63, 4, 1, 1, "channels_last"),
         (1, 2048, 15, 8, 1, 16, "channels_last"), (1, 4096, 9, 16, 4, 4, "channels_last"),
         (1, 8192, 31, 2, 16, 2, "channels_last"), (1, 2367, 79, 2, 2, 2, "channels_first"),
         (2, 28, 3, 8, 1, 16, "channels_first"), (2, 64, 3, 8, 1, 32, "channels_first"),
         (2, 64, 7, 4, 1, 1, "channels_first"), (2, 128, 3, 8, 2, 8, "channels_first"),
         (2, 96, 5, 4, 3, 16, "channels_first"), (2, 64, 3, 8, 16, 1, "channels_first"),
         (2, 28, 3, 8, 1, 16, "channels_last"), (2, 64, 7, 4, 1, 1, "channels_last")]
QUICK_CASES = [(1, 2367, 79, 2, 2, 2, "channels_last"), (2, 28, 3, 8, 1, 16, "channels_first")]


def implementations(rank, data_format):
    import keras

    from structconv import ops as sops
    from structconv.ops.arguments import conv_arguments
    from structconv.ops.conv import prepare_conv
    from structconv.ops.execute import execute
    from structconv.ops.plan import Plan

    args = conv_arguments(rank, 1, "same", data_format=data_format)

    def forced(method):
        plan = Plan("direct", direct=method, source="forced")
        return lambda x, kernel, training: execute(plan, prepare_conv(x, kernel, args, training)[0], x,
                                                   kernel)

    def auto_plan(x, kernel, training):
        return prepare_conv(x, kernel, args, training)[1].label

    return {
        "keras.ops.conv": lambda x, kernel, training: keras.ops.conv(x, kernel, 1, "same",
                                                                     data_format=data_format),
        "structconv, torch's conv": forced("native"),
        "structconv, im2col": forced("im2col"),
        "structconv auto": lambda x, kernel, training: sops.conv(x, kernel, padding="same",
                                                                 data_format=data_format),
    }, auto_plan


def run(cases, rounds):
    os.environ["KERAS_BACKEND"] = "torch"
    os.environ.setdefault("STRUCTCONV_CACHE_DIR", tempfile.mkdtemp(prefix="structconv-bench-"))
    import torch

    from structconv import config

    config.set_autotune("uncertain")
    records = []
    for rank, size, k, batch, channels, filters, data_format in cases:
        rng = np.random.default_rng(0)
        spatial = (size,) * rank
        last = data_format == "channels_last"
        layouts = {width: (batch, *spatial, width) if last else (batch, width, *spatial)
                   for width in (channels, filters)}
        x = torch.tensor(rng.standard_normal(layouts[channels], np.float32))
        kernel = torch.tensor(rng.standard_normal((*(k,) * rank, channels, filters), np.float32) / k)
        impls, auto_plan = implementations(rank, data_format)
        cotangent = torch.tensor(rng.standard_normal(layouts[filters], np.float32))
        for mode, training, seconds in torch_modes(impls, x, kernel, cotangent, rounds):
            name = (f"{rank}-D {batch} x {size}^{rank}, {channels} -> {filters}, k={k}, {data_format}, "
                    f"{mode}")
            base = seconds["keras.ops.conv"]
            ratio = seconds["structconv, torch's conv"] / seconds["structconv, im2col"]
            chosen = auto_plan(x, kernel, training)
            print(f"{name}: " + ", ".join(f"{impl} {s * 1e3:.3f} ms ({s / base:.2f}x)"
                                          for impl, s in seconds.items())
                  + f"; torch's conv / im2col {ratio:.2f}; auto ran {chosen}", file=sys.stderr, flush=True)
            records.append({"case": name, "ms": {impl: round(s * 1e3, 3) for impl, s in seconds.items()},
                            "conv_over_im2col": round(ratio, 2), "auto_plan": chosen})
    return records


def signal_model(library, length):
    import keras

    inputs = keras.Input((length, 2))
    hidden = library.Conv1D(2, 79, padding="same", activation="relu")(inputs)
    hidden = library.Conv1D(4, 31, padding="same", activation="relu")(hidden)
    outputs = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(hidden))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "mse")
    return model


def fit_timings(signals=64, length=2367, epochs=3):
    """Epochs of `fit` of `signal_model` at batch 2 and 8, Keras's layers against structconv's."""
    import keras

    from structconv import layers

    rng = np.random.default_rng(0)
    x = rng.standard_normal((signals, length, 2)).astype("float32")
    y = rng.standard_normal((signals, 1)).astype("float32")
    found = {}
    for batch in (2, 8):
        for name, library in (("keras.layers", keras.layers), ("structconv.layers", layers)):
            key = f"{name}, batch {batch}"
            found[key] = fit_epoch_seconds(signal_model(library, length), x, y, batch, epochs)
            print(f"two-channel signals of {length} samples, {key}: fit epochs of {signals // batch} steps "
                  + ", ".join(f"{s:.2f} s" for s in found[key]), file=sys.stderr, flush=True)
    return found


def main():
    options = quick_or_full_options(__doc__.split("\n")[0], 9)
    records = run(QUICK_CASES if options.quick else CASES, options.rounds)
    network = fit_timings(16, epochs=2) if options.quick else fit_timings()
    import torch

    print(json.dumps({"machine": machine(), "threads": torch.get_num_threads(),
                      "versions": versions(("keras", "torch", "numpy")), "records": records,
                      "fit_epoch_seconds": network}, indent=1))


if __name__ == "__main__":
    main()
