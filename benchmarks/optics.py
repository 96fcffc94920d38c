"""Optics and complex-network layers on CPU, next to hand-written NumPy/SciPy code and (torch) torchcvnn.

    flock /tmp/structconv-bench.lock .venv/bin/python benchmarks/optics.py [--quick] [--json results.json]

One subprocess per Keras backend; in each, every implementation of a case is timed in interleaved rounds
(after two warm-up calls), so load from other processes hits all alike. Tables show medians (ms) and the
ratio to the hand-written NumPy implementation, with the ratio of the minima in parentheses.

(a) Free-space propagation (angular spectrum, band-limited) of one 1024x1024 complex64 field:
    `structconv.ops.free_space_propagation` on a float32 `(real, imag)` pair and on a complex64 tensor,
    against `numpy.fft` and `scipy.fft` (`ifft2(fft2(u) * H)`, `H` precomputed) and, on torch,
    `torch.fft` by hand (torchcvnn 0.10 has no propagation). structconv also times forward+backward.
(b) `ComplexBatchNormalization` in training mode (batch statistics, 2x2 whitening, affine, moving
    statistics updated) on 16 x 64 x 64 x 16 complex64, against the same computation vectorised in NumPy
    and, on torch, `torchcvnn.nn.BatchNorm2d` (channels_first complex64, its layout) in training mode.

JAX runs under `jax.jit`, TensorFlow under `tf.function`, torch eagerly under `torch.no_grad()`; one
thread per framework by default (`--threads`; NumPy/SciPy are capped likewise through OMP/MKL and
`scipy.fft`'s `workers=1`). `--quick`: a 256^2 field and a smaller batch, 3 rounds (a smoke test).
"""

import argparse
import json
import sys
import time

import numpy as np
from environment import machine, medians_and_minima, run_worker_process, versions  # noqa: E402  (this folder is on sys.path)

from structconv.tuning.threads import limit_threads  # noqa: E402

PACKAGES = ("keras", "jax", "jaxlib", "torch", "tensorflow-cpu", "tensorflow", "numpy", "scipy", "torchcvnn")
BACKENDS = ("torch", "jax", "tensorflow")
WAVELENGTH, PITCH, DISTANCE = 0.5e-6, 2e-6, 0.1  # the band limit cuts at this distance
SCIPY = "SciPy scipy.fft"
SIZES = {False: {"field": 1024, "bn": (16, 64, 64, 16), "rounds": 15},
         True: {"field": 256, "bn": (4, 16, 16, 8), "rounds": 3}}


def numpy_transfer(n):
    """Band-limited angular-spectrum transfer function, written from the formula (complex64)."""
    f = np.fft.fftfreq(n, PITCH)
    fy, fx = np.meshgrid(f, f, indexing="ij")
    h = np.exp(2j * np.pi * DISTANCE * np.sqrt(np.maximum(1 / WAVELENGTH**2 - fx**2 - fy**2, 0)))
    limit = 1 / (WAVELENGTH * np.sqrt((2 * DISTANCE / (n * PITCH)) ** 2 + 1))
    return (h * ((np.abs(fx) < limit) & (np.abs(fy) < limit))).astype(np.complex64)


def numpy_batch_norm(z, gamma, beta, moving, momentum=0.99, epsilon=1e-3):
    """Training-mode complex batch normalisation (channels_last), vectorised NumPy."""
    axes = tuple(range(z.ndim - 1))
    x, y = z.real, z.imag
    mx, my = x.mean(axes), y.mean(axes)
    cx, cy = x - mx, y - my
    vrr, vri, vii = (cx * cx).mean(axes) + epsilon, (cx * cy).mean(axes), (cy * cy).mean(axes) + epsilon
    s = np.sqrt(vrr * vii - vri * vri)
    t = np.sqrt(vrr + vii + 2 * s)
    wrr, wii, wri = (vii + s) / (s * t), (vrr + s) / (s * t), -vri / (s * t)
    wx, wy = wrr * cx + wri * cy, wri * cx + wii * cy
    for key, value in zip(("mx", "my", "vrr", "vri", "vii"), (mx, my, vrr - epsilon, vri, vii - epsilon)):
        moving[key] = momentum * moving[key] + (1 - momentum) * value
    return (gamma[0] * wx + gamma[1] * wy + beta[0]) + 1j * (gamma[1] * wx + gamma[2] * wy + beta[1])


def compile_for(backend, function):
    if backend == "jax":
        import jax

        return jax.jit(function)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(function, jit_compile=False)
    return function


def run_worker(backend, quick, threads):
    limit_threads(threads)
    import keras
    import scipy.fft

    from structconv import layers
    from structconv import ops as sops

    sizes = SIZES[quick]
    rng = np.random.default_rng(0)
    n = sizes["field"]
    u = (rng.standard_normal((1, n, n, 1)) + 1j * rng.standard_normal((1, n, n, 1))).astype(np.complex64)
    h = numpy_transfer(n)
    plane = np.ascontiguousarray(u[0, :, :, 0])
    pair = (keras.ops.convert_to_tensor(u.real), keras.ops.convert_to_tensor(u.imag))
    complex_tensor = keras.ops.convert_to_tensor(u)

    def propagate(field):
        return sops.free_space_propagation(field, DISTANCE, WAVELENGTH, PITCH, band_limit=True)

    pair_fn, complex_fn = compile_for(backend, propagate), compile_for(backend, propagate)
    functions = {
        "NumPy numpy.fft": lambda: np.fft.ifft2(np.fft.fft2(plane) * h),
        SCIPY: lambda: scipy.fft.ifft2(scipy.fft.fft2(plane, workers=1) * h, workers=1),
        "structconv, float32 pair": lambda: _block(pair_fn(pair)),
        "structconv, complex64": lambda: _block(complex_fn(complex_tensor)),
    }
    reference = np.fft.ifft2(np.fft.fft2(plane) * h)
    gradient = _gradient_function(backend, propagate, pair)
    if gradient is not None:
        functions["structconv, float32 pair, forward+backward"] = gradient
    if backend == "torch":
        import torch

        tu, th = torch.from_numpy(plane), torch.from_numpy(h)
        functions["torch.fft by hand"] = lambda: torch.fft.ifft2(torch.fft.fft2(tu) * th)
    with _no_grad(backend):
        errors = {"structconv, float32 pair": _error(pair_fn(pair), reference),
                  "structconv, complex64": _error(complex_fn(complex_tensor), reference)}
        medians, minima = medians_and_minima(functions, sizes["rounds"])
    _emit({"part": "propagation", "backend": backend, "case": f"{n}x{n} complex64 field, band-limited ASM",
           "times": medians, "minima": minima, "errors": errors, "baseline": "NumPy numpy.fft",
           "rounds": sizes["rounds"]})

    shape = sizes["bn"]
    z = (rng.standard_normal(shape) + 1j * (0.5 * rng.standard_normal(shape) + 0.3)).astype(np.complex64)
    layer = layers.ComplexBatchNormalization()
    layer.build((shape, shape))
    gamma, beta = (1 / np.sqrt(2), 0.0, 1 / np.sqrt(2)), (0.0, 0.0)
    moving = {key: np.zeros(shape[-1], np.float32) for key in ("mx", "my", "vrr", "vri", "vii")}
    z_pair = (keras.ops.convert_to_tensor(z.real), keras.ops.convert_to_tensor(z.imag))
    functions = {"NumPy by hand": lambda: numpy_batch_norm(z, gamma, beta, moving),
                 "structconv ComplexBatchNormalization": _training_call(backend, layer, z_pair)}
    if backend == "torch":
        try:
            import torch
            import torchcvnn.nn

            peer = torchcvnn.nn.BatchNorm2d(shape[-1]).train()
            tz = torch.from_numpy(np.ascontiguousarray(np.moveaxis(z, -1, 1)))
            functions["torchcvnn BatchNorm2d (channels_first)"] = lambda: peer(tz)
        except ImportError as error:
            print(f"torchcvnn not available: {error}", file=sys.stderr)
    with _no_grad(backend):
        medians, minima = medians_and_minima(functions, sizes["rounds"])
    case = f"{' x '.join(map(str, shape))} complex64, training"
    _emit({"part": "batch_norm", "backend": backend, "case": case,
           "times": medians, "minima": minima, "errors": {}, "baseline": "NumPy by hand",
           "rounds": sizes["rounds"]})


def _training_call(backend, layer, inputs):
    if backend == "jax":
        import jax

        step = jax.jit(lambda t, n, x: layer.stateless_call(t, n, x, training=True))
        state = {"t": [v.value for v in layer.trainable_variables],
                 "n": [v.value for v in layer.non_trainable_variables]}

        def call():
            outputs, state["n"] = step(state["t"], state["n"], inputs)
            return _block(outputs)

        return call
    if backend == "tensorflow":
        function = compile_for(backend, lambda x: layer(x, training=True))
        return lambda: function(inputs)
    return lambda: layer(inputs, training=True)


def _gradient_function(backend, propagate, pair):
    import keras

    def loss(real, imag):
        out_real, out_imag = propagate((real, imag))
        return keras.ops.sum(out_real * out_real + 0.5 * out_imag)

    if backend == "jax":
        import jax

        grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
        return lambda: _block(grad(*pair))
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def grad(real, imag):
            with tf.GradientTape() as tape:
                tape.watch([real, imag])
                value = loss(real, imag)
            return tape.gradient(value, [real, imag])

        return lambda: grad(*pair)
    import torch

    real, imag = (p.clone().requires_grad_(True) for p in pair)

    def grad():
        with torch.enable_grad():  # the timing loop runs under no_grad
            return torch.autograd.grad(loss(real, imag), [real, imag])

    return grad


class _no_grad:
    def __init__(self, backend):
        self.context = None
        if backend == "torch":
            import torch

            self.context = torch.no_grad()

    def __enter__(self):
        if self.context is not None:
            self.context.__enter__()

    def __exit__(self, *exc):
        if self.context is not None:
            self.context.__exit__(*exc)


def _block(outputs):
    for out in outputs if isinstance(outputs, (tuple, list)) else (outputs,):
        if hasattr(out, "block_until_ready"):
            out.block_until_ready()
    return outputs


def _error(out, reference):
    import keras

    if isinstance(out, (tuple, list)):
        out = keras.ops.convert_to_numpy(out[0]) + 1j * keras.ops.convert_to_numpy(out[1])
    out = np.asarray(keras.ops.convert_to_numpy(out))[0, :, :, 0]
    return float(np.abs(out - reference).max() / np.abs(reference).max())


def _emit(record):
    print(json.dumps(record), flush=True)


def tables(records):
    lines = []
    for record in records:
        baseline = record["baseline"]
        # the speed target is the fastest hand-written peer, SciPy's FFTs, so its ratio gets a column too
        peers = [baseline] + [name for name in (SCIPY,) if name in record["times"] and name != baseline]
        lines += [f"**{record['backend']}, {record['part'].replace('_', ' ')}: {record['case']}** "
                  f"({record['rounds']} rounds; medians, and the ratio of the minima in parentheses)", "",
                  f"| implementation | ms | {' | '.join('/ ' + peer for peer in peers)} "
                  "| max rel. error vs NumPy |",
                  "|---|---:|" + "---:|" * len(peers) + "---:|"]
        for name, seconds in record["times"].items():
            ratios = " | ".join(f"{seconds / record['times'][peer]:.2f} "
                                f"({record['minima'][name] / record['minima'][peer]:.2f})" for peer in peers)
            error = record["errors"].get(name)
            error = "" if error is None else f"{error:.1e}"
            lines.append(f"| {name} | {seconds * 1e3:.1f} | {ratios} | {error} |")
        lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 3 rounds (smoke test)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="subset of " + ",".join(BACKENDS))
    parser.add_argument("--threads", type=int, default=1, help="threads per framework (0: defaults)")
    parser.add_argument("--json", metavar="PATH", help="also write the raw results as JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, args.quick, args.threads)
        return
    started, records, failed = time.perf_counter(), [], []
    load = open("/proc/loadavg").read().split()[:3] if sys.platform.startswith("linux") else "unknown"
    for backend in (b for b in args.backends.split(",") if b):
        arguments = ["--threads", str(args.threads)] + (["--quick"] if args.quick else [])
        found, ok = run_worker_process(__file__, backend, arguments, 1200)
        records += found
        if not ok:
            failed.append(backend)
    elapsed = time.perf_counter() - started
    print(f"Machine: {machine()}. Versions: {versions(PACKAGES)}. Threads: {args.threads or 'default'}. "
          f"Total {elapsed:.0f} s{' (--quick)' if args.quick else ''}. "
          f"Load average before: {' '.join(load)}.\n")
    if failed:
        print(f"**Failed (incomplete results): {', '.join(failed)}.**\n")
    print(tables(records))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"machine": machine(), "versions": versions(PACKAGES), "seconds": elapsed,
                       "records": records, "failed": failed}, handle, indent=1)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
