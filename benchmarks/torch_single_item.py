"""PyTorch 3-D convolutions (and transposed ones) of a single item: as they are against two halves stacked
along the batch (`structconv.ops.halves`), next to Keras's own convolution.

    flock /tmp/structconv-bench.lock .venv/bin/python benchmarks/torch_single_item.py [--quick]

ATen sends a float32 3-D convolution of one item whose kernel has at most 3 taps along one of its last two
axes, and whose `channels * depth * height` is at most 20480, to its own loops instead of oneDNN, which the
same convolution of two items gets. A 3-D U-Net's layers at batch 1 (inference on a volume, or training on
one) are such convolutions, and their decoders' transposed convolutions too. The planner offers the halves
as a candidate there (`_backend/torch_conv.py`, `slow_single_item`), which measuring times beside the
convolution as it is.

Cases (float32, channels_last, batch 1): convolutions with 3x3x3 kernels, stride 1, 1-16 input channels,
24^3-128^3; transposed convolutions (`keras.ops.conv_transpose`, what `keras.layers.Conv3DTranspose` calls)
with 2x2x2 and 3x3x3 kernels, strides 1-2, 4-16 channels.
Implementations, forward (no gradient) and a training step (forward, then the gradients w.r.t. input and
kernel of `sum(y * g)`), eager:
- `keras.ops.conv` (`keras.ops.conv_transpose`): what `keras.layers.Conv3D` (`Conv3DTranspose`) calls;
- `structconv, as is`: the plan `direct:native`, forced;
- `structconv, halves`: the plan `direct:halves`, forced;
- `structconv auto`: `structconv.ops.conv(...)` (`conv_transpose`) as a user calls it (autotune
  "uncertain", a fresh plan cache: it measures in the warm-up rounds, FFT plans too).
Interleaved rounds after two warm-up rounds, medians; ratios to Keras's op in the same run.

Then a whole network: a small 3-D U-Net (two 3x3x3 convolutions at 48^3, 1 -> 8 -> 8 channels, max
pooling, two at 24^3, 8 -> 16 -> 16, a 2x2x2 stride-2 transposed convolution back to 48^3, concatenation,
a 3x3x3 convolution and a 1x1x1 one) built from `keras.layers` and from `structconv.layers`: `predict` of
one volume (median of 5, after a first call that measures), and epochs of `fit` on 4 volumes at batch 1
(the first measures).
"""

import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np
from environment import (  # noqa: E402
    fit_epoch_seconds,
    machine,
    quick_or_full_options,
    torch_modes,
    versions,
)

# (transposed, size, channels, filters, kernel size, strides, padding)
CASES = [(False, 128, 1, 8, 3, 1, "same"), (False, 96, 2, 8, 3, 1, "same"),
         (False, 64, 4, 16, 3, 1, "same"), (False, 50, 6, 6, 3, 1, "valid"),
         (False, 50, 8, 8, 3, 1, "valid"), (False, 32, 16, 16, 3, 1, "same"),
         (False, 24, 8, 8, 3, 1, "same"), (False, 48, 1, 1, 3, 1, "same"),
         (True, 24, 16, 16, 3, 2, "same"), (True, 32, 8, 8, 3, 1, "same"),
         (True, 16, 16, 16, 2, 2, "same"), (True, 24, 8, 8, 2, 2, "same"), (True, 48, 4, 4, 3, 1, "same")]
QUICK_CASES = [(False, 24, 8, 8, 3, 1, "same"), (False, 32, 1, 4, 3, 1, "same"),
               (True, 16, 8, 8, 3, 2, "same")]


def _prepared(case):
    """`(args, prepare)`: the checked arguments of `case` and the op's `prepare_conv` (or
    `prepare_conv_transpose`), which returns a call's problem and the plan "auto" runs."""
    from structconv.ops.arguments import conv_arguments
    from structconv.ops.conv import prepare_conv
    from structconv.ops.conv_transpose import prepare_conv_transpose

    transposed, _, _, _, _, strides, padding = case
    return conv_arguments(3, strides, padding), prepare_conv_transpose if transposed else prepare_conv


def implementations(case):
    import keras

    from structconv import ops as sops
    from structconv.ops.conv_transpose import run_conv_transpose
    from structconv.ops.execute import execute
    from structconv.ops.plan import Plan

    transposed, _, _, _, _, strides, padding = case
    args, prepare = _prepared(case)

    def forced(method):
        plan = Plan("direct", direct=method, source="forced")
        if transposed:
            return lambda x, kernel, training: run_conv_transpose(
                plan, prepare(x, kernel, args, training)[0], x, kernel, args)
        return lambda x, kernel, training: execute(plan, prepare(x, kernel, args, training)[0], x, kernel)

    if transposed:
        stock, ours = keras.ops.conv_transpose, sops.conv_transpose
    else:
        stock, ours = keras.ops.conv, sops.conv
    return {
        "keras.ops." + stock.__name__: lambda x, kernel, training: stock(x, kernel, strides, padding),
        "structconv, as is": forced("native"),
        "structconv, halves": forced("halves"),
        "structconv auto": lambda x, kernel, training: ours(x, kernel, strides=strides, padding=padding),
    }


def auto_plan(case, x, kernel, training):
    """The label of the plan "auto" runs for `case` (planned and measured already)."""
    args, prepare = _prepared(case)
    return prepare(x, kernel, args, training)[1].label


def run(cases, rounds):
    os.environ["KERAS_BACKEND"] = "torch"
    os.environ.setdefault("STRUCTCONV_CACHE_DIR", tempfile.mkdtemp(prefix="structconv-bench-"))
    import torch

    from structconv import config

    config.set_autotune("uncertain")
    records = []
    for case in cases:
        transposed, size, channels, filters, k, strides, padding = case
        rng = np.random.default_rng(0)
        x = torch.tensor(rng.standard_normal((1, size, size, size, channels), np.float32))
        kernel_shape = (k, k, k, filters, channels) if transposed else (k, k, k, channels, filters)
        kernel = torch.tensor(rng.standard_normal(kernel_shape, np.float32) / k ** 1.5)
        impls = implementations(case)
        stock = next(iter(impls))
        out = tuple(impls[stock](x, kernel, False).shape)
        cotangent = torch.tensor(rng.standard_normal(out, np.float32))
        kind = "transposed" if transposed else "conv"
        for mode, training, seconds in torch_modes(impls, x, kernel, cotangent, rounds):
            name = (f"3-D {kind} 1 x {size}^3, {channels} -> {filters}, k={k}, strides {strides}, {padding}, "
                    f"{mode}")
            base = seconds[stock]
            chosen = auto_plan(case, x, kernel, training)
            print(f"{name}: " + ", ".join(f"{impl} {s * 1e3:.1f} ms ({s / base:.2f}x)"
                                          for impl, s in seconds.items()) + f"; auto ran {chosen}",
                  file=sys.stderr, flush=True)
            records.append({"case": name, "ms": {impl: round(s * 1e3, 2) for impl, s in seconds.items()},
                            "auto_plan": chosen})
    return records


def unet(library, size):
    import keras

    inputs = keras.Input((size, size, size, 1))
    top = library.Conv3D(8, 3, padding="same", activation="relu")(inputs)
    top = library.Conv3D(8, 3, padding="same", activation="relu")(top)
    bottom = keras.layers.MaxPooling3D(2)(top)
    bottom = library.Conv3D(16, 3, padding="same", activation="relu")(bottom)
    bottom = library.Conv3D(16, 3, padding="same", activation="relu")(bottom)
    up = library.Conv3DTranspose(8, 2, strides=2, padding="same")(bottom)
    joined = keras.layers.Concatenate()([top, up])
    joined = library.Conv3D(8, 3, padding="same", activation="relu")(joined)
    model = keras.Model(inputs, library.Conv3D(1, 1)(joined))
    model.compile("adam", "mse")
    return model


def unet_timings(size=48, volumes=4, epochs=3):
    """`predict` of one volume and `fit` epochs of a small 3-D U-Net at batch 1, Keras's layers against
    structconv's."""
    import keras

    from structconv import layers

    rng = np.random.default_rng(0)
    x = rng.standard_normal((volumes, size, size, size, 1)).astype("float32")
    y = rng.standard_normal((volumes, size, size, size, 1)).astype("float32")
    found = {}
    for name, library in (("keras.layers", keras.layers), ("structconv.layers", layers)):
        model = unet(library, size)
        model.predict(x[:1], verbose=0)
        predict = []
        for _ in range(5):
            started = time.perf_counter()
            model.predict(x[:1], verbose=0)
            predict.append(time.perf_counter() - started)
        epoch_seconds = fit_epoch_seconds(model, x, y, 1, epochs)
        found[name] = {"predict_ms": round(statistics.median(predict) * 1e3, 1), "epoch_s": epoch_seconds}
        epochs_text = ", ".join(f"{s:.2f} s" for s in epoch_seconds)
        print(f"3-D U-Net at {size}^3, batch 1, {name}: predict {found[name]['predict_ms']} ms; fit epochs "
              f"of {volumes} steps {epochs_text}", file=sys.stderr, flush=True)
    return found


def main():
    options = quick_or_full_options(__doc__.split("\n")[0], 7)
    records = run(QUICK_CASES if options.quick else CASES, options.rounds)
    network = unet_timings(16, 2, 2) if options.quick else unet_timings()
    import torch

    print(json.dumps({"machine": machine(), "threads": torch.get_num_threads(),
                      "versions": versions(("keras", "torch", "numpy")), "records": records,
                      "unet": network}, indent=1))


if __name__ == "__main__":
    main()
