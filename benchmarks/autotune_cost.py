"""What measured planning costs: first-call overhead per distinct layer shape, nothing per step after.

    .venv/bin/python benchmarks/autotune_cost.py [--epochs 4] [--samples 512] [--json PATH]

Per Keras backend (one subprocess each), a small model with three large-kernel structconv layers of
different shapes (2-D, 3-D, and a 4-D layer's input) is trained with `fit` twice, each from a fresh cache
directory: autotuning "off" (the cost model alone) and "uncertain" (the default: measuring where the model is
not clearly sure). Reported per epoch: wall time; and what measuring cost (`tuning.autotune.statistics()`:
problems and candidates timed, seconds). The first epoch carries tracing and, with measuring, the timing of
candidates; from the second epoch on both runs execute fixed plans, so their epoch times should agree
within noise (when both picked the same plans) or favour measuring (when the model picked worse ones).
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from environment import machine, run_worker_process  # noqa: E402

BACKENDS = ("torch", "jax", "tensorflow")
MODES = ("off", "uncertain")


def build_model():
    import keras

    from structconv import layers

    inputs = keras.Input((32, 32, 3))
    x = layers.Conv2D(8, 15, padding="same", activation="relu")(inputs)
    x = keras.layers.Reshape((8, 4, 32, 8))(x)
    x = layers.Conv3D(8, 7, padding="same", activation="relu")(x)
    x = keras.layers.Reshape((4, 2, 4, 32, 8))(x)
    x = layers.Conv4D(4, 3, padding="same")(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "mse")
    return model


def worker(mode, epochs, samples):
    import keras

    from structconv import config
    from structconv.tuning import autotune

    config.set_autotune(mode)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((samples, 32, 32, 3)).astype("float32"), rng.standard_normal((samples, 1))
    model = build_model()
    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    model.fit(x, y, batch_size=16, epochs=epochs, verbose=0, callbacks=[Timer()])
    plans = [plan.label + " (" + plan.source + ")" for layer in model.layers
             for _, plan in getattr(layer, "_structconv_plans", {}).values()]
    print(json.dumps({"mode": mode, "epochs": times, "statistics": autotune.statistics(),
                      "plans": sorted(set(plans))}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--samples", type=int, default=512, help="training samples (batches of 16)")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        worker(options.mode, options.epochs, options.samples)
        return
    records = []
    for backend in options.backends.split(","):
        for mode in MODES:
            with tempfile.TemporaryDirectory() as cache:
                os.environ["STRUCTCONV_CACHE_DIR"] = cache
                found, ok = run_worker_process(__file__, backend, ["--mode", mode, "--epochs",
                                                                    str(options.epochs), "--samples",
                                                                    str(options.samples)], 1800)
            if not ok:
                raise SystemExit(f"{backend} {mode} failed")
            records += [{"backend": backend, **r} for r in found]
    load = os.getloadavg()[0]
    lines = [f"## Cost of measured planning ({machine()}, load average {load:.1f} at the end)\n",
             "| backend | autotune | epoch 1 s | later epochs s (each) | problems timed | candidates | "
             "timing s | plans |", "|---|---|---:|---|---:|---:|---:|---|"]
    for r in records:
        s = r["statistics"]
        later = ", ".join(f"{t:.2f}" for t in r["epochs"][1:])
        lines.append(f"| {r['backend']} | {r['mode']} | {r['epochs'][0]:.2f} | {later} | {s['problems']} | "
                     f"{s['candidates']} | {s['seconds']:.1f} | {'; '.join(r['plans'])} |")
    lines.append(f"\nCommand: `{' '.join(sys.argv)}`.")
    print("\n".join(lines))
    if options.json:
        with open(options.json, "w") as out:
            json.dump({"machine": machine(), "records": records}, out, indent=2)


if __name__ == "__main__":
    main()
