"""Stories 2 and 4: large kernels, where `algorithm="auto"` switches to FFT convolution.

Direct convolution costs grow with the kernel's area, FFT convolution's do not. The scenario filters a
batch of multi-channel images with kernels of growing size, times `ops.conv` with `algorithm="direct"` and
`"fft"` (compiled the backend's way, interleaved rounds, the fastest kept), records what `"auto"` picks
from the static shapes (`structconv.ops.algorithm.explain_choice`), checks that both algorithms give the
same result, and plots the two times against the kernel size with auto's choice marked.
"""

import time

import keras
import numpy as np

from structconv import ops
from structconv.demo import figures
from structconv.demo.context import Section
from structconv.layers import Conv2D
from structconv.ops.algorithm import explain_choice

TITLE = "Stories 2 and 4: large kernels, and the automatic choice of FFT"

# (batch, image size, channels, kernel sizes, timed rounds) per mode: quick is True or False.
_SIZES = {True: (1, 128, 4, (5, 15, 31), 3), False: (2, 256, 8, (3, 7, 11, 15, 21, 31), 5)}


def compiled_forward(function):
    """`function(x, kernel)` compiled the active Keras backend's way (`jax.jit`, `tf.function`), eager under
    `torch.no_grad()` on torch; the returned callable waits for the result. Also used by the benchmarks."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        jitted = jax.jit(function)
        return lambda x, k: jitted(x, k).block_until_ready()
    if backend == "tensorflow":
        import tensorflow as tf

        traced = tf.function(function, autograph=False)
        return lambda x, k: traced(x, k).numpy()
    import torch

    def eager(x, k):
        with torch.no_grad():
            return function(x, k)

    return eager


def time_both(x, kernel, rounds):
    """Fastest seconds of direct and of FFT `ops.conv` (padding "same"), timed in interleaved rounds after a
    warm-up, the largest difference between their outputs relative to the largest output, and the direct
    output."""
    functions = {
        algorithm: compiled_forward(lambda x, k, a=algorithm: ops.conv(x, k, padding="same", algorithm=a))
        for algorithm in ("direct", "fft")
    }
    outputs = {a: keras.ops.convert_to_numpy(f(x, kernel)) for a, f in functions.items()}  # warm-up
    difference = np.max(np.abs(outputs["fft"] - outputs["direct"])) / np.max(np.abs(outputs["direct"]))
    best = {a: float("inf") for a in functions}
    for _ in range(rounds):
        for a, f in functions.items():
            start = time.perf_counter()
            f(x, kernel)
            best[a] = min(best[a], time.perf_counter() - start)
    return best, float(difference), outputs["direct"]


def run(context):
    batch, size, channels, kernel_sizes, rounds = _SIZES[context.quick]
    section = Section(
        title=TITLE,
        summary=(
            f"A batch of {batch} images of {size} x {size} pixels with {channels} channels is filtered by "
            f"{channels} -> {channels} kernels of {kernel_sizes[0]} x {kernel_sizes[0]} up to "
            f"{kernel_sizes[-1]} x {kernel_sizes[-1]} (padding \"same\", float32). At each size "
            "`ops.conv` runs with `algorithm=\"direct\"` and `\"fft\"`, and `\"auto\"` (the default) "
            "picks one from the static shapes by a cost model calibrated per backend (docs/fft.md)."
        ),
    )
    rng = np.random.default_rng(context.seed)
    x = keras.ops.convert_to_tensor(rng.normal(size=(batch, size, size, channels)), "float32")
    rows = []
    with context.step("Timing direct and FFT convolution for growing kernels"):
        for k in kernel_sizes:
            kernel = rng.normal(size=(k, k, channels, channels)) / k
            info = explain_choice(tuple(x.shape), kernel.shape, padding="same")
            seconds, difference, direct = time_both(x, keras.ops.convert_to_tensor(kernel, "float32"), rounds)
            faster = min(seconds, key=seconds.get)
            rows.append({"k": k, "chosen": info["algorithm"], "faster": faster, "difference": difference,
                         **seconds})
            context.log(f"    k={k:3d}: direct {seconds['direct'] * 1e3:8.1f} ms, "
                        f"fft {seconds['fft'] * 1e3:8.1f} ms, auto picks {info['algorithm']} "
                        f"(measured faster: {faster}), "
                        f"max relative difference {difference:.1e}")
    for row in rows:
        section.add_result(
            f"{row['k']} x {row['k']} kernel: direct / fft",
            f"{row['direct'] * 1e3:.1f} ms / {row['fft'] * 1e3:.1f} ms; auto picks **{row['chosen']}**"
            f"{'' if row['chosen'] == row['faster'] else ' (measured faster: ' + row['faster'] + ')'}",
        )
    largest = rows[-1]
    section.add_result(
        "FFT against direct, largest kernel (max relative difference)", f"{largest['difference']:.1e}"
    )

    with context.step("A Conv2D layer with the default algorithm=\"auto\""):
        k = largest["k"]
        # The layer holds the largest kernel timed above (and a zero bias): same output as direct.
        layer = Conv2D(channels, k, padding="same")
        layer.build(tuple(x.shape))
        layer.set_weights([kernel, np.zeros(channels)])
        # Compiled like a model's forward pass: the choice is made once, when the call is traced.
        y = keras.ops.convert_to_numpy(compiled_forward(lambda x, _: layer(x))(x, None))
        layer_difference = float(np.max(np.abs(y - direct)) / np.max(np.abs(direct)))
        context.log(f"    Conv2D({channels}, {k}, padding=\"same\") on {tuple(x.shape)} -> {y.shape}, "
                    f"runs {largest['chosen']}; max relative difference to direct {layer_difference:.1e}")
    section.add_result(
        f"`Conv2D({channels}, {k}, padding=\"same\")`, default algorithm",
        f"runs {largest['chosen']}; max relative difference to direct {layer_difference:.1e}",
    )

    plot_timings(rows, context.path("large_kernel_timings.png"), f"{batch} x {size}^2 x {channels} -> "
                 f"{channels} channels, {context.backend}")
    section.figures.append(("Direct and FFT convolution time against the kernel size; the filled "
                            "marker is the algorithm \"auto\" picks", "large_kernel_timings.png"))
    section.notes.append(
        "Times are the fastest of interleaved rounds after a warm-up, `jax.jit` / `tf.function` compiled "
        "on JAX and TensorFlow, eager on PyTorch; on a shared machine they vary from run to run. The "
        "crossover sweeps of every rank, with the target \"auto within 1.15x of the faster\", are in "
        "`benchmarks/fft.py` and docs/benchmarks.md."
    )
    return section


def plot_timings(rows, path, title):
    figure, axes = figures.plt.subplots(figsize=(5.5, 3.6))
    ks = [row["k"] for row in rows]
    for algorithm, style in (("direct", "o-"), ("fft", "s-")):
        axes.plot(ks, [row[algorithm] * 1e3 for row in rows], style, fillstyle="none", label=algorithm)
    axes.plot(ks, [row[row["chosen"]] * 1e3 for row in rows], "k*", markersize=11, label="auto's pick")
    axes.set_xlabel("kernel size k (k x k)")
    axes.set_ylabel("ms per call")
    axes.set_yscale("log")
    axes.grid(alpha=0.3)
    axes.legend()
    axes.set_title(title, fontsize=9)
    figures.save(figure, path)
