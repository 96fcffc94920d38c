"""Zero-sum first-layer filters for brightness robustness (user story 2): five ways, three backends.

    .venv/bin/python benchmarks/constraints.py [--backend jax] [--quick] [--threads 1] [--json PATH]
        [--figure docs/figures/constraints_accuracy.png]

The task. scikit-learn's handwritten digits (1797 images of 8x8, shipped inside the package), scaled to
[0, 1] and upsampled bilinearly to 32x32, so that a 7x7 kernel spans about a stroke and a 15x15 kernel
about half a digit (the 8x8 originals are smaller than a 15x15 kernel). Every image, train and test, gets
a brightness offset: a constant drawn uniformly in [-B, B] (B = 3, three times the signal's range) is added
to all its pixels. A filter whose weights sum to 0 does not see the offset; any other filter sees it as a
large noise source. The first convolution uses padding "valid": with zero padding ("same") the border
windows would mix image and padding, and even a zero-sum filter would see the offset there. The split is
stratified, 1248 training images (39 batches of 32) and 549 test images, the same for every method.

The model, identical for every method but its first block:

    input 32x32x1 -> [first block: 8 filters of k x k, valid, bias, ReLU] -> adaptive average pooling to
    4x4 -> flatten -> Dense(10, softmax)

trained with Adam (learning rate 3e-3), batch 32, sparse categorical cross-entropy, in the same order and
from the same initial weights for every method (per seed: the first layer's kernel is one Glorot-uniform
draw, projected onto zero sum by the methods that hold it; the Dense layer is one draw). The five first
blocks:

1. `stock`: `keras.layers.Conv2D(8, k)`, unconstrained;
2. `L1 on sum`: the same with `kernel_regularizer=FilterSumL1(0.1)`, the penalty
   `0.1 * sum over filters of |sum of the filter's weights|` (0.1 was the best of 1e-3, 1e-2, 0.1 and 1 in
   a pilot run on JAX at 7x7);
3. `projection`: `keras.layers.Conv2D(8, k, kernel_constraint=structconv.constraints.ZeroSum())`: the
   mean is subtracted after every optimizer step;
4. `difference layer`: the workaround of the story: a fixed, non-trainable `Conv2D(k*k - 1, k)` whose
   filter m is +1 at the m-th tap other than the centre and -1 at the centre (output m is
   `x[i + di, j + dj] - x[i, j]`, the tap minus the window's centre pixel), then a trainable 1x1
   `Conv2D(8)`. Its effective kernel is exactly a zero-sum k x k kernel; the 1x1 weights start as the
   projected initial kernel at the taps other than the centre, so it starts from the same kernel;
5. `structconv zero_sum`: `structconv.layers.Conv2D(8, k, kernel_parametrization="zero_sum")`, with the
   default `algorithm="auto"` (structconv's cost model picks direct or FFT convolution; the choice is
   reported). Its step is also timed with `algorithm="direct"`, the same convolution as the stock layer,
   which isolates the cost of the parametrization and of structconv's convolution path.

Reported per backend, kernel size and method: the test accuracy after each epoch (mean over seeds), the
largest |sum of a filter| at the end, and the time of one training step: `model.train_on_batch` on one
fixed batch of 32, the same batch for every method, after a warm-up (JIT compilation on JAX, tracing on
TensorFlow), the models interleaved step by step in a random order so that bursts of load on the
machine fall on all of them alike; per step the wall-clock time and the process's CPU time, the medians
over a few hundred rounds (the ratio to the stock model: the median of the ratios within a round). A
second, identical stock model is timed as a control (`stock (A/A)`): its ratio to the first is the noise
of the measurement. The targets of the story: the parametrized layer's step within 1.05x of the stock
layer's, and convergence at least as good as the best alternative.

`--threads` sets the intra-op threads of every backend (default 1; 0 keeps the backends' defaults). One
thread makes the CPU time per step a measure of the work done that other processes on a shared machine
do not disturb (with several threads, waiting threads spin and count as CPU time).

Every Keras backend runs in its own subprocess (`KERAS_BACKEND` is fixed per process), one after the
other, from this one command; the driver prints the Markdown tables and draws the figure.
"""

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from environment import machine, versions  # noqa: E402  (this folder is on sys.path)

PACKAGES = ("keras", "jax", "torch", "tensorflow-cpu", "numpy", "scikit-learn")

BACKENDS = ("jax", "tensorflow", "torch")
KERNEL_SIZES = (7, 15)
METHODS = ("stock", "L1 on sum", "projection", "difference layer", "structconv zero_sum")
PARAMETRIZED = "structconv zero_sum"
CONTROL = "stock (A/A)"
DIRECT = "structconv zero_sum, algorithm='direct'"
TIMED = (*METHODS, CONTROL, DIRECT)
FILTERS = 8
IMAGE = 32
BRIGHTNESS = 3.0
BATCH = 32
TRAIN_SIZE = 39 * BATCH  # whole batches only: no second compilation for a last, smaller batch
LEARNING_RATE = 3e-3
L1_STRENGTH = 0.1
POOLED = 4
FULL = {"epochs": 8, "seeds": 2, "timing_seconds": 20.0, "min_rounds": 40, "max_rounds": 400}
QUICK = {"epochs": 1, "seeds": 1, "timing_seconds": 2.0, "min_rounds": 5, "max_rounds": 50, "subset": 600}
DEFAULT_FIGURE = os.path.join("docs", "figures", "constraints_accuracy.png")


# --- data ---------------------------------------------------------------------------------------


def bilinear_matrix(size_in, size_out):
    """The (size_out, size_in) matrix of 1-D bilinear interpolation, pixel centres aligned."""
    positions = (np.arange(size_out) + 0.5) * size_in / size_out - 0.5
    positions = np.clip(positions, 0, size_in - 1)
    low = np.floor(positions).astype(int)
    high = np.minimum(low + 1, size_in - 1)
    weight = positions - low
    matrix = np.zeros((size_out, size_in))
    matrix[np.arange(size_out), low] += 1 - weight
    matrix[np.arange(size_out), high] += weight
    return matrix


def load_data(subset=None, seed=0):
    """Digits upsampled to 32x32 in [0, 1] plus a per-image brightness offset in [-B, B], float32."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images, labels = digits.images / 16.0, digits.target.astype("int32")
    if subset:
        images, labels = images[:subset], labels[:subset]
    resize = bilinear_matrix(8, IMAGE)
    images = np.einsum("ij,njk,lk->nil", resize, images, resize)
    train_size = min(TRAIN_SIZE, (len(images) * 7 // 10) // BATCH * BATCH)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, train_size=train_size, stratify=labels, random_state=seed
    )
    rng = np.random.default_rng(seed)
    x_train = x_train + rng.uniform(-BRIGHTNESS, BRIGHTNESS, (len(x_train), 1, 1))
    x_test = x_test + rng.uniform(-BRIGHTNESS, BRIGHTNESS, (len(x_test), 1, 1))
    return x_train[..., None].astype("float32"), y_train, x_test[..., None].astype("float32"), y_test


# --- the five first blocks (imported lazily: the driver process imports no backend) -----------------


def filter_sum_l1_class():
    import keras

    @keras.saving.register_keras_serializable(package="structconv_benchmarks")
    class FilterSumL1(keras.regularizers.Regularizer):
        """`strength * sum over filters of |sum of the filter's weights|` (sums over the spatial axes, per
        input channel and filter, as `structconv.constraints.ZeroSum`)."""

        def __init__(self, strength=L1_STRENGTH):
            self.strength = float(strength)

        def __call__(self, kernel):
            sums = keras.ops.sum(kernel, axis=(0, 1))
            return self.strength * keras.ops.sum(keras.ops.abs(sums))

        def get_config(self):
            return {"strength": self.strength}

    return FilterSumL1


def difference_kernel(k, channels=1):
    """The fixed kernel of the difference layer, shape (k, k, channels, channels * (k*k - 1)).

    For input channel c, filter `c * (k*k - 1) + m` is +1 at the m-th tap (row-major, the centre skipped)
    and -1 at the centre tap, so in every window it outputs `x[tap] - x[centre]` of channel c.
    """
    taps = [(i, j) for i in range(k) for j in range(k) if (i, j) != (k // 2, k // 2)]
    kernel = np.zeros((k, k, channels, channels * len(taps)), "float32")
    for c in range(channels):
        for m, (i, j) in enumerate(taps):
            kernel[i, j, c, c * len(taps) + m] = 1.0
            kernel[k // 2, k // 2, c, c * len(taps) + m] = -1.0
    return kernel


def initial_kernel(k, seed):
    """One Glorot-uniform draw of the first layer's kernel (k, k, 1, FILTERS), as NumPy."""
    import keras

    return keras.ops.convert_to_numpy(
        keras.initializers.GlorotUniform(seed=seed)((k, k, 1, FILTERS), dtype="float32")
    )


def build_model(method, k, seed):
    """The compiled classifier with the first block of `method`, from the initial weights of `seed`."""
    import keras

    import structconv

    kernel = initial_kernel(k, seed)
    projected = kernel - kernel.mean(axis=(0, 1), keepdims=True)
    constant = keras.initializers.Constant
    inputs = keras.Input((IMAGE, IMAGE, 1))
    common = {"padding": "valid", "activation": "relu", "name": "first"}
    if method in ("stock", CONTROL):
        x = keras.layers.Conv2D(FILTERS, k, kernel_initializer=constant(kernel), **common)(inputs)
    elif method == "L1 on sum":
        x = keras.layers.Conv2D(FILTERS, k, kernel_initializer=constant(kernel),
                                kernel_regularizer=filter_sum_l1_class()(), **common)(inputs)
    elif method == "projection":
        x = keras.layers.Conv2D(FILTERS, k, kernel_initializer=constant(projected),
                                kernel_constraint=structconv.constraints.ZeroSum(), **common)(inputs)
    elif method == "difference layer":
        fixed = difference_kernel(k)
        x = keras.layers.Conv2D(fixed.shape[-1], k, padding="valid", use_bias=False, trainable=False,
                                kernel_initializer=constant(fixed), name="differences")(inputs)
        # Effective kernel = fixed @ mixing: with mixing = the projected kernel at the taps other than the
        # centre, it is the projected kernel (whose centre is minus the sum of the others).
        centre = k // 2 * k + k // 2
        mixing = np.delete(projected.reshape(k * k, FILTERS), centre, axis=0)[None, None]
        x = keras.layers.Conv2D(FILTERS, 1, kernel_initializer=constant(mixing), **common)(x)
    elif method in (PARAMETRIZED, DIRECT):
        algorithm = {"algorithm": "direct"} if method == DIRECT else {}  # else the default, "auto"
        x = structconv.layers.Conv2D(FILTERS, k, kernel_initializer=constant(kernel),
                                     kernel_parametrization="zero_sum", **algorithm, **common)(inputs)
    else:
        raise ValueError(method)
    x = keras.layers.AdaptiveAveragePooling2D(POOLED)(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(
        10, activation="softmax", kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1000)
    )(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def chosen_algorithm(model):
    """Which algorithm `algorithm="auto"` picks for the first layer on a training batch ("direct" or
    "fft"), asked of structconv's planner (an internal function: "unknown" if it moved)."""
    import keras

    layer = model.get_layer("first")
    try:
        from structconv.ops.conv import as_float_tensors, prepare_conv

        inputs, kernel = as_float_tensors(keras.ops.zeros((BATCH, IMAGE, IMAGE, 1)), layer.kernel)
        return str(prepare_conv(inputs, kernel, layer.arguments, training=True)[1].algorithm)
    except Exception:  # noqa: BLE001 - a report, not a check
        return "unknown"


def effective_kernel(model, k):
    """The first layer's effective k x k kernel (NumPy), whatever the method."""
    import keras

    kernel = keras.ops.convert_to_numpy(model.get_layer("first").kernel)
    if kernel.shape[0] == 1:  # the 1x1 mixing of the difference layer
        kernel = np.einsum("ijcm,mf->ijcf", difference_kernel(k), kernel[0, 0])
    return kernel


# --- worker: one backend, in its own process -----------------------------------------------------


def log(message):
    print(message, file=sys.stderr, flush=True)


def restart(model, template):
    """Gives `model` the initial weights of `template` and a fresh optimizer state, so that one compiled
    model (one JIT compilation) serves every seed."""
    import keras

    model.set_weights(template.get_weights())
    for variable in model.optimizer.variables:  # the step count and the moments; not the learning rate
        if "learning_rate" not in variable.path:
            variable.assign(keras.ops.zeros(variable.shape, variable.dtype))


def train_curves(k, data, settings):
    """Test accuracy after each epoch, per method and seed, and the largest |filter sum| at the end."""
    x_train, y_train, x_test, y_test = data
    curves, sums, seconds = {}, {}, {}
    for method in METHODS:
        curves[method], sums[method] = [], []
        started = time.perf_counter()
        model = build_model(method, k, seed=0)
        for seed in range(settings["seeds"]):
            restart(model, build_model(method, k, seed))
            order = np.random.default_rng(seed)
            accuracy = []
            for _ in range(settings["epochs"]):
                perm = order.permutation(len(x_train))  # the same order for every method
                model.fit(x_train[perm], y_train[perm], batch_size=BATCH, epochs=1, shuffle=False,
                          verbose=0)
                accuracy.append(float(model.evaluate(x_test, y_test, batch_size=len(x_test), verbose=0)[1]))
            curves[method].append(accuracy)
            sums[method].append(float(np.abs(effective_kernel(model, k).sum(axis=(0, 1))).max()))
        seconds[method] = time.perf_counter() - started
        mean = np.round(np.mean(curves[method], axis=0), 3).tolist()
        log(f"  k={k} {method}: test accuracy per epoch {mean} ({seconds[method]:.0f} s)")
    return curves, sums, seconds


def time_steps(k, data, settings):
    """Seconds per `train_on_batch` step on one fixed batch, the models interleaved step by step.

    Each round runs one step of every model, in a random order (a fixed cyclic order would always put
    the same model after the difference layer, whose large activations evict the caches), so that drifts
    and bursts of load on the machine fall on all of them alike. Per step both the wall-clock time and the
    process's CPU time are recorded; the medians over rounds are reported.
    """
    x, y = data[0][:BATCH], data[1][:BATCH]
    names = TIMED
    models = {name: build_model(name, k, seed=0) for name in names}
    per_round = 0.0
    for model in models.values():
        for _ in range(5):  # compiles (JAX), traces (TensorFlow), allocates
            model.train_on_batch(x, y)
        start = time.perf_counter()
        for _ in range(3):
            model.train_on_batch(x, y)
        per_round += (time.perf_counter() - start) / 3
    rounds = settings["timing_seconds"] / per_round
    rounds = int(min(settings["max_rounds"], max(settings["min_rounds"], rounds)))
    shuffle = np.random.default_rng(0)
    wall = {name: [] for name in names}
    cpu = {name: [] for name in names}
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for position in shuffle.permutation(len(names)):
                name = names[position]
                cpu_start, wall_start = time.process_time(), time.perf_counter()
                models[name].train_on_batch(x, y)
                wall[name].append(time.perf_counter() - wall_start)
                cpu[name].append(time.process_time() - cpu_start)
    finally:
        gc.enable()
    results = {"algorithm": chosen_algorithm(models[PARAMETRIZED])}
    for name in names:
        results[name] = {"rounds": rounds}
        for clock, times in (("cpu", cpu), ("wall", wall)):
            # The ratio to the stock model is the median over rounds of the ratio within a round: the two
            # steps ran within milliseconds of each other, under the same load.
            ratios = np.asarray(times[name]) / np.asarray(times["stock"])
            results[name][f"{clock}_s"] = statistics.median(times[name])
            results[name][f"{clock}_ratio"] = float(np.median(ratios))
    return results


def limit_threads(backend, threads):
    """Intra-op threads of the backend (the environment variables are set by the driver too)."""
    if not threads:
        return
    if backend == "torch":
        import torch

        torch.set_num_threads(threads)
    elif backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def run_worker(backend, settings, threads, path):
    import keras

    if keras.backend.backend() != backend:
        raise SystemExit(f"KERAS_BACKEND is {keras.backend.backend()!r}, expected {backend!r}")
    limit_threads(backend, threads)
    data = load_data(subset=settings.get("subset"))
    log(f"[{backend}] {len(data[0])} training and {len(data[2])} test images, {threads or 'default'} threads")
    results = {"backend": backend, "load_before": os.getloadavg(), "kernel_sizes": {}}
    for k in KERNEL_SIZES:
        curves, sums, seconds = train_curves(k, data, settings)
        timing = time_steps(k, data, settings)
        log(f"  k={k} structconv's algorithm='auto' chose {timing['algorithm']!r}")
        for name in TIMED:
            entry = timing[name]
            log(f"  k={k} {name}: {entry['cpu_s'] * 1e3:.2f} ms CPU ({entry['cpu_ratio']:.3f}x), "
                f"{entry['wall_s'] * 1e3:.2f} ms wall ({entry['wall_ratio']:.3f}x) per step")
        results["kernel_sizes"][str(k)] = {
            "accuracy": curves, "max_abs_filter_sum": sums, "train_seconds": seconds, "step": timing
        }
    results["load_after"] = os.getloadavg()
    with open(path, "w") as out:
        json.dump(results, out)


# --- driver -------------------------------------------------------------------------------------


def source_state():
    """The commit of the checkout and whether `src/` differs from it (the code the numbers are of)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "src"], cwd=root, capture_output=True,
                                 text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}{' + uncommitted changes in src/' if changed else ''}"


def worker_environment(backend, threads):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    if threads:
        count = str(threads)
        env.update(OMP_NUM_THREADS=count, MKL_NUM_THREADS=count, TF_NUM_INTRAOP_THREADS=count,
                   TF_NUM_INTEROP_THREADS=count)
        xla = f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} " \
              f"intra_op_parallelism_threads={count}"
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {xla}".strip()
    return env


def collect(backends, options):
    results = {}
    for backend in backends:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "result.json")
            command = [sys.executable, os.path.abspath(__file__), "--worker", backend, "--out", path,
                       "--threads", str(options.threads)]
            if options.quick:
                command.append("--quick")
            log(f"running {backend} ...")
            started = time.perf_counter()
            completed = subprocess.run(command, env=worker_environment(backend, options.threads),
                                       timeout=3600)
            if completed.returncode != 0:
                raise SystemExit(f"the {backend} worker failed (exit status {completed.returncode})")
            with open(path) as result:
                results[backend] = json.load(result)
            results[backend]["wall_seconds"] = time.perf_counter() - started
    return results


def mean_curve(runs):
    return np.mean(np.asarray(runs), axis=0)


def final_accuracy(entry, method):
    return float(mean_curve(entry["accuracy"][method])[-1])


def accuracy_table(results, backend, epochs):
    header = "| k | method | " + " | ".join(f"ep {e + 1}" for e in range(epochs)) + " | max abs filter sum |"
    lines = [header, "|---|---|" + "---:|" * (epochs + 1)]
    for k, entry in results[backend]["kernel_sizes"].items():
        for method in METHODS:
            cells = " | ".join(f"{100 * a:.1f}" for a in mean_curve(entry["accuracy"][method]))
            lines.append(f"| {k}x{k} | {method} | {cells} | {max(entry['max_abs_filter_sum'][method]):.1e} |")
    return "\n".join(lines)


def step_table(results, backends):
    lines = ["| k | method | " + " | ".join(f"{b} CPU ms (x stock) | {b} wall ms (x stock)" for b in backends)
             + " |", "|---|---|" + "---:|" * (2 * len(backends))]
    for k in map(str, KERNEL_SIZES):
        for method in TIMED:
            cells = []
            for backend in backends:
                step = results[backend]["kernel_sizes"][k]["step"]
                for clock in ("cpu", "wall"):
                    seconds, ratio = step[method][f"{clock}_s"], step[method][f"{clock}_ratio"]
                    cells.append(f"{seconds * 1e3:.2f} ({ratio:.3f}x)")
            lines.append(f"| {k}x{k} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_table(results, backends):
    """Per backend and k: the parametrized layer's step ratios (with the algorithm "auto" chose, and with
    "direct"), the A/A control's, and its final accuracy next to the best alternative's."""
    lines = ["| backend | k | auto chose | structconv / stock, CPU | wall | same, direct, CPU | wall "
             "| A/A control, CPU | wall | final acc. structconv | best alternative (final acc.) |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for backend in backends:
        for k, entry in results[backend]["kernel_sizes"].items():
            step = entry["step"]
            ratios = [step[name][f"{clock}_ratio"] for name in (PARAMETRIZED, DIRECT, CONTROL)
                      for clock in ("cpu", "wall")]
            best = max((m for m in METHODS if m != PARAMETRIZED), key=lambda m: final_accuracy(entry, m))
            lines.append(f"| {backend} | {k}x{k} | {step['algorithm']} | "
                         + " | ".join(f"{r:.3f}x" for r in ratios)
                         + f" | {100 * final_accuracy(entry, PARAMETRIZED):.1f} | "
                         f"{best} ({100 * final_accuracy(entry, best):.1f}) |")
    return "\n".join(lines)


def draw(results, backends, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = dict(zip(METHODS, ("tab:gray", "tab:orange", "tab:blue", "tab:green", "tab:red")))
    styles = dict(zip(BACKENDS, ("-", "--", ":")))
    figure, axes = plt.subplots(1, len(KERNEL_SIZES), figsize=(6.5 * len(KERNEL_SIZES), 4.8), sharey=True)
    axes = np.atleast_1d(axes)
    for axis, k in zip(axes, map(str, KERNEL_SIZES)):
        for method in METHODS:
            for backend in backends:
                curve = 100 * mean_curve(results[backend]["kernel_sizes"][k]["accuracy"][method])
                axis.plot(np.arange(1, len(curve) + 1), curve, styles[backend], color=colors[method],
                          marker="o", markersize=3, label=f"{method} ({backend})")
        axis.set_title(f"first layer {k}x{k}, brightness offset uniform in [-{BRIGHTNESS:g}, {BRIGHTNESS:g}]")
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (%)")
    axes[-1].legend(fontsize=7, ncol=1 if len(backends) == 1 else 2, loc="lower right")
    figure.tight_layout()
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=BACKENDS, help="run this backend only (default: all three)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 600 images, 1 epoch, 1 seed")
    parser.add_argument("--threads", type=int, default=1,
                        help="intra-op threads per backend (default 1; 0: the backends' defaults)")
    parser.add_argument("--json", metavar="PATH", help="also write the raw results as JSON")
    parser.add_argument("--figure", metavar="PATH", default=None,
                        help=f"accuracy-per-epoch figure (default {DEFAULT_FIGURE}; with --quick, none "
                             "unless given: a smoke run must not replace the documented figure)")
    parser.add_argument("--worker", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    options = parser.parse_args()
    settings = QUICK if options.quick else FULL
    if options.worker:
        run_worker(options.worker, settings, options.threads, options.out)
        return
    started = time.perf_counter()
    backends = [options.backend] if options.backend else list(BACKENDS)
    source = source_state()  # before the run: others may edit src/ meanwhile
    results = collect(backends, options)
    load = {b: (results[b]["load_before"][0], results[b]["load_after"][0]) for b in backends}
    print(f"## Zero-sum first layer on brightness-shifted digits{' (quick)' if options.quick else ''}\n")
    print(f"Machine: {machine()}; 1-minute load average before/after each backend: "
          + ", ".join(f"{b} {before:.1f}/{after:.1f}" for b, (before, after) in load.items()) + "\n")
    print("Versions: " + ", ".join(f"{k} {v}" for k, v in versions(PACKAGES).items())
          + f"; structconv at {source}\n")
    print(f"Settings: {settings}, {options.threads or 'default'} intra-op thread(s), batch {BATCH}, "
          f"Adam {LEARNING_RATE:g}, L1 strength {L1_STRENGTH:g}, brightness offset uniform in "
          f"[-{BRIGHTNESS:g}, {BRIGHTNESS:g}]\n")
    print("### Summary against the targets (step time ratio to the stock Conv2D: within 1.05x)\n")
    print(summary_table(results, backends))
    print("\n### Time per training step (median over interleaved rounds; ratio to the stock Conv2D)\n")
    print(step_table(results, backends))
    for backend in backends:
        print(f"\n### Test accuracy (%) per epoch, {backend} (mean over {settings['seeds']} seed(s))\n")
        print(accuracy_table(results, backend, settings["epochs"]))
    figure = options.figure or (None if options.quick else DEFAULT_FIGURE)
    if figure:
        draw(results, backends, figure)
        print(f"\nFigure: {figure}")
    print(f"Total run time: {time.perf_counter() - started:.0f} s.")
    if options.json:
        with open(options.json, "w") as out:
            json.dump({"machine": machine(), "versions": versions(PACKAGES),
                       "source": source, "settings": settings,
                       "threads": options.threads, "batch": BATCH, "learning_rate": LEARNING_RATE,
                       "l1_strength": L1_STRENGTH, "brightness": BRIGHTNESS, "results": results}, out,
                      indent=2)


if __name__ == "__main__":
    main()
