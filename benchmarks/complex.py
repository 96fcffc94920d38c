"""Complex convolution on CPU: the cost of each `complex_conv` method, next to the frameworks' native
complex convolution, and the float32 precision of each when the real and imaginary parts differ in scale.

    flock /tmp/structconv-bench.lock .venv/bin/python benchmarks/complex.py [--quick] [--json results.json]

One run, one subprocess per Keras backend (`KERAS_BACKEND` is fixed per process), results side by side:

(a) time of `structconv.ops.complex_conv` with `method="naive"` (4 real convolutions), `"gauss"` (3),
    `"block"` (one real convolution with doubled channels) and `"auto"` (= block), forward and
    forward + backward (gradients w.r.t. the real and imaginary parts of input and kernel), as a ratio to
    "naive". Cases: 2-D 64x64, 8 -> 8 channels, k=5, batch 8; 3-D 24^3, 8 -> 8 channels, k=3, batch 2;
    padding "same", float32 (pairs of real tensors), channels_last. Next to them the native complex
    convolution where the framework has one: `torch.nn.functional.conv2d`/`conv3d` on complex64 tensors
    (channels_first, its layout) on the torch backend, `jax.lax.conv_general_dilated` on complex64 arrays
    (NHWC / NDHWC, the same layout as structconv) on the JAX backend. On torch, "block" is also timed with
    `data_format="channels_first"`, the layout torch's kernels run (Keras transposes channels_last
    inputs around every convolution on torch);
(b) float32 relative error of each output part when inputs and kernels have imaginary parts 1e-4 of their
    real parts (the 2-D case), against a float64 NumPy reference, each part relative to its own largest
    magnitude: every method and the native complex convolutions.

Functions run under `jax.jit` on JAX and `tf.function` on TensorFlow, eagerly on torch (forward under
`torch.no_grad()`), on one thread per framework by default (`--threads`): on a 2-core machine shared with
other jobs, torch's two OpenMP threads wait on each other whenever one is descheduled, which made its
timings 10x slower and erratic; one thread gives stable ratios. Each function is warmed up (compilation),
then all functions of a case are timed in interleaved rounds (so a burst of load from other processes hits
all of them alike), and the tables show medians, with the ratio of the minima next to each ratio of
medians ("block" and "auto" run the very same computation: their spread is the noise of the machine).
`--quick` times one small 2-D case (32x32, batch 2) in 3 rounds (a smoke test, not for reporting).
"""

import argparse
import json
import os
import sys
import time

import numpy as np
from environment import machine, medians_and_minima, run_worker_process, to_backend, versions  # noqa: E402  (this folder is on sys.path)

from structconv.tuning.threads import limit_threads  # noqa: E402

PACKAGES = ("keras", "jax", "jaxlib", "torch", "tensorflow-cpu", "tensorflow", "numpy")

BACKENDS = ("torch", "jax", "tensorflow")
METHODS = ("naive", "gauss", "block", "auto")
CASES = {
    "2-D 64^2, 8->8, k=5, batch 8": {"rank": 2, "size": 64, "channels": 8, "k": 5, "batch": 8},
    "3-D 24^3, 8->8, k=3, batch 2": {"rank": 3, "size": 24, "channels": 8, "k": 3, "batch": 2},
}
PRECISION_CASE = "2-D 64^2, 8->8, k=5, batch 8"
QUICK_CASES = {"2-D 32^2, 8->8, k=5, batch 2 (--quick)": {"rank": 2, "size": 32, "channels": 8, "k": 5,
                                                          "batch": 2}}
SCALE = 1e-4  # imaginary / real parts in the precision case


def operands(case, imag_scale=1.0, seed=0):
    """Complex input (channels_last) and kernel (*k, in, out) as complex64 NumPy arrays."""
    rng = np.random.default_rng(seed)
    rank, size, channels, k, batch = (case[key] for key in ("rank", "size", "channels", "k", "batch"))
    shape, kshape = (batch, *[size] * rank, channels), (*[k] * rank, channels, channels)
    x = rng.standard_normal(shape) + 1j * imag_scale * rng.standard_normal(shape)
    w = (rng.standard_normal(kshape) + 1j * imag_scale * rng.standard_normal(kshape)) / np.sqrt(
        k**rank * channels)
    return x.astype(np.complex64), w.astype(np.complex64)


def reference(x, w):
    """Complex cross-correlation with "same" padding (odd kernels), complex128, by a loop over taps."""
    x, w = x.astype(np.complex128), w.astype(np.complex128)
    rank = x.ndim - 2
    k = w.shape[0]
    pad = k // 2
    padded = np.pad(x, [(0, 0)] + [(pad, pad)] * rank + [(0, 0)])
    y = np.zeros(x.shape[:-1] + (w.shape[-1],), np.complex128)
    for taps in np.ndindex(*w.shape[:rank]):
        window = padded[(slice(None), *(slice(t, t + n) for t, n in zip(taps, x.shape[1:-1])))]
        y += window @ w[taps]
    return y


def part_errors(actual, expected):
    """(real part error, imaginary part error), each relative to that part's largest magnitude."""
    actual = np.asarray(actual, np.complex128)
    return tuple(
        float(np.max(np.abs(a - e)) / np.max(np.abs(e)))
        for a, e in ((actual.real, expected.real), (actual.imag, expected.imag))
    )


# --- per-backend functions -------------------------------------------------------------------------------


def to_numpy(value):
    if isinstance(value, (tuple, list)):
        return to_numpy(value[0]) + 1j * to_numpy(value[1])
    if hasattr(value, "detach"):
        value = value.detach()
    return np.asarray(value)


def forward_and_backward(backend, forward, weights):
    """`forward(x, w)` (pairs or complex) compiled the backend's way, and a function computing the gradients
    of `sum(u * re + v * im)` of its output w.r.t. `x` and `w`; both return blocking callables of `(x, w)`."""
    u, v = weights

    def parts(y):
        if isinstance(y, (tuple, list)):
            return y
        if backend == "torch":
            return y.real, y.imag
        if backend == "jax":
            import jax.numpy as jnp

            return jnp.real(y), jnp.imag(y)
        import tensorflow as tf

        return tf.math.real(y), tf.math.imag(y)

    if backend == "jax":
        import jax
        import jax.numpy as jnp

        def loss(x, w):
            re, im = parts(forward(x, w))
            return jnp.sum(u * re) + jnp.sum(v * im)

        fwd, grad = jax.jit(forward), jax.jit(jax.grad(loss, argnums=(0, 1)))
        return (lambda x, w: jax.block_until_ready(fwd(x, w)),
                lambda x, w: jax.block_until_ready(grad(x, w)))
    if backend == "tensorflow":
        import tensorflow as tf

        def gradients(x, w):
            with tf.GradientTape() as tape:
                tape.watch([x, w])
                re, im = parts(forward(x, w))
                value = tf.reduce_sum(u * re) + tf.reduce_sum(v * im)
            return tape.gradient(value, [x, w])

        fwd = tf.function(forward, autograph=False)
        grad = tf.function(gradients, autograph=False)
        return (lambda x, w: tf.nest.map_structure(lambda t: t.numpy(), fwd(x, w)),
                lambda x, w: tf.nest.map_structure(lambda t: t.numpy(), grad(x, w)))
    import torch

    def run_forward(x, w):
        with torch.no_grad():
            return forward(x, w)

    def run_gradients(x, w):
        leaves = [t.detach().requires_grad_(True) for t in (*_flat(x), *_flat(w))]
        xs, ws = _unflat(x, leaves[: len(_flat(x))]), _unflat(w, leaves[len(_flat(x)):])
        re, im = parts(forward(xs, ws))
        value = (u * re).sum() + (v * im).sum()
        return torch.autograd.grad(value, leaves)

    return run_forward, run_gradients


def _flat(value):
    return list(value) if isinstance(value, (tuple, list)) else [value]


def _unflat(template, leaves):
    return tuple(leaves) if isinstance(template, (tuple, list)) else leaves[0]


def implementations(backend, rank):
    """{name: (forward(x, w), form, layout)}: form "pair" or "complex", layout "channels_last" or
    "channels_first" (torch's (out, in, *k) kernel then)."""
    from structconv import ops

    found = {
        m: (lambda x, w, m=m: ops.complex_conv(x, w, padding="same", method=m), "pair", "channels_last")
        for m in METHODS
    }
    if backend == "torch":
        import torch

        native = getattr(torch.nn.functional, f"conv{rank}d")
        found["block, channels_first"] = (
            lambda x, w: ops.complex_conv(x, w, padding="same", method="block", data_format="channels_first"),
            "pair", "channels_first_keras")
        found["torch native complex64"] = (lambda x, w: native(x, w, padding="same"), "complex",
                                           "channels_first")
    if backend == "jax":
        import jax

        spec = {2: ("NHWC", "HWIO", "NHWC"), 3: ("NDHWC", "DHWIO", "NDHWC")}[rank]
        found["jax.lax native complex64"] = (
            lambda x, w: jax.lax.conv_general_dilated(x, w, (1,) * rank, "SAME", dimension_numbers=spec),
            "complex", "channels_last")
    return found


def prepare(x, w, form, layout, backend):
    """The operands of one implementation, as backend tensors."""
    rank = x.ndim - 2
    if layout.startswith("channels_first"):
        x = np.moveaxis(x, -1, 1)
    if layout == "channels_first":  # torch's kernel layout (out, in, *k)
        w = np.transpose(w, (rank + 1, rank, *range(rank)))
    x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
    if form == "complex":
        return to_backend(x, backend), to_backend(w, backend)
    return ((to_backend(x.real.copy(), backend), to_backend(x.imag.copy(), backend)),
            (to_backend(w.real.copy(), backend), to_backend(w.imag.copy(), backend)))


def output_to_channels_last(y, layout):
    return np.moveaxis(y, 1, -1) if layout.startswith("channels_first") else y


# --- workers ---------------------------------------------------------------------------------------------


def emit(record):
    print(json.dumps(record), flush=True)


def timing_worker(backend, cases, rounds):
    for name, case in cases.items():
        x_np, w_np = operands(case)
        out_shape = (case["batch"], *[case["size"]] * case["rank"], case["channels"])
        rng = np.random.default_rng(1)
        weights_np = [rng.standard_normal(out_shape).astype(np.float32) for _ in range(2)]
        functions, errors = {}, {}
        expected = reference(x_np, w_np)
        for impl, (forward, form, layout) in implementations(backend, case["rank"]).items():
            weights = [to_backend(np.ascontiguousarray(np.moveaxis(wt, -1, 1)) if layout.startswith(
                "channels_first") else wt, backend) for wt in weights_np]
            fwd, grad = forward_and_backward(backend, forward, weights)
            x, w = prepare(x_np, w_np, form, layout, backend)
            # every implementation computes the same thing: checked before timing
            y = output_to_channels_last(to_numpy(fwd(x, w)), layout)
            errors[impl] = max(part_errors(y, expected))
            functions[f"{impl}|forward"] = lambda f=fwd, x=x, w=w: f(x, w)
            functions[f"{impl}|forward+backward"] = lambda f=grad, x=x, w=w: f(x, w)
        medians, minima = medians_and_minima(functions, rounds)
        emit({"part": "timing", "backend": backend, "case": name, "rounds": rounds, "errors": errors,
              "times": medians, "minima": minima})


def precision_worker(backend):
    case = CASES[PRECISION_CASE]
    x_np, w_np = operands(case, imag_scale=SCALE, seed=2)
    expected = reference(x_np, w_np)
    ratio = float(np.abs(expected.imag).max() / np.abs(expected.real).max())
    for impl, (forward, form, layout) in implementations(backend, case["rank"]).items():
        x, w = prepare(x_np, w_np, form, layout, backend)
        y = output_to_channels_last(to_numpy(forward(x, w)), layout)
        real, imag = part_errors(y, expected)
        emit({"part": "precision", "backend": backend, "implementation": impl, "real": real, "imag": imag,
              "output_imag_over_real": ratio})


def run_worker(backend, quick, threads):
    limit_threads(threads)
    import keras

    assert keras.backend.backend() == backend
    if backend == "jax":
        import jax

        jax.config.update("jax_enable_x64", False)
    cases = QUICK_CASES if quick else CASES
    timing_worker(backend, cases, rounds=3 if quick else 25)
    precision_worker(backend)


# --- driver ----------------------------------------------------------------------------------------------


def load():
    """The 1, 5 and 15 minute load averages (timings on a busy machine are slower and noisier)."""
    try:
        return ", ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def collect(backends, quick, threads):
    """Records of every backend's worker, and the backends whose worker failed (what they measured before
    failing is kept)."""
    records, failed = [], []
    for backend in backends:
        arguments = ["--threads", str(threads)] + (["--quick"] if quick else [])
        found, ok = run_worker_process(__file__, backend, arguments, 1200)
        if not ok:
            print(f"  {backend} worker FAILED; its results are incomplete", file=sys.stderr, flush=True)
            failed.append(backend)
        records += found
    return records, failed


def ms(seconds):
    return f"{seconds * 1e3:.1f}" if seconds < 10 else f"{seconds * 1e3:.0f}"


def timing_tables(records):
    lines = []
    for record in (r for r in records if r["part"] == "timing"):
        times = record["times"]
        impls = list(dict.fromkeys(key.split("|")[0] for key in times))
        minima = record["minima"]
        lines += [f"**{record['backend']}, {record['case']}** ({record['rounds']} rounds: medians, and in"
                  " parentheses the ratio of the minima)", "",
                  "| implementation | forward ms | / naive | fwd+bwd ms | / naive | max rel. error |",
                  "|---|---:|---:|---:|---:|---:|"]
        for impl in impls:
            cells = []
            for mode in ("forward", "forward+backward"):
                seconds, naive = times[f"{impl}|{mode}"], times[f"naive|{mode}"]
                best = minima[f"{impl}|{mode}"] / minima[f"naive|{mode}"]
                cells += [ms(seconds), f"{seconds / naive:.2f} ({best:.2f})"]
            lines.append(f"| {impl} | " + " | ".join(cells) + f" | {record['errors'][impl]:.1e} |")
        lines.append("")
    return "\n".join(lines)


def precision_table(records, backends):
    rows = [r for r in records if r["part"] == "precision"]
    impls = list(dict.fromkeys(r["implementation"] for r in rows))
    index = {(r["backend"], r["implementation"]): r for r in rows}
    lines = ["| implementation |" + "".join(f" {b}: re / im |" for b in backends),
             "|---|" + "---:|" * len(backends)]
    for impl in impls:
        cells = []
        for b in backends:
            r = index.get((b, impl))
            cells.append(f"{r['real']:.1e} / {r['imag']:.1e}" if r else "")
        lines.append(f"| {impl} | " + " | ".join(cells) + " |")
    ratio = rows[0]["output_imag_over_real"] if rows else float("nan")
    return "\n".join(lines), ratio


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small 2-D case, 3 rounds (smoke test)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="subset of " + ",".join(BACKENDS))
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per framework (default 1; 0: the frameworks' defaults)")
    parser.add_argument("--json", metavar="PATH", help="also write the raw results as JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, args.quick, args.threads)
        return
    backends = [b for b in args.backends.split(",") if b]
    load_before = load()
    started = time.perf_counter()
    records, failed = collect(backends, args.quick, args.threads)
    elapsed = time.perf_counter() - started
    precision, ratio = precision_table(records, backends)
    threads = args.threads or "the frameworks' default"
    print(f"Machine: {machine()}. Versions: {versions(PACKAGES)}. Threads: {threads}. Total {elapsed:.0f} s"
          f"{' (--quick)' if args.quick else ''}. Load average before the run: {load_before}.\n")
    if failed:
        print(f"**Failed (incomplete results): {', '.join(failed)}.**\n")
    print("## Time per method, as a ratio to \"naive\"\n")
    print(timing_tables(records))
    print(f"## float32 relative error, imaginary parts {SCALE:g} of the real parts ({PRECISION_CASE})\n")
    print(f"Output imaginary / real magnitude: {ratio:.1e}. Each part's error relative to its own largest "
          "value.\n")
    print(precision)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"machine": machine(), "versions": versions(PACKAGES),
                       "seconds": elapsed, "quick": args.quick,
                       "threads": args.threads, "failed": failed, "records": records}, handle, indent=1)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
