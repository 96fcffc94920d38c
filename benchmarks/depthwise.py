"""Large-kernel depthwise convolution on CPU: `DepthwiseConvND`'s `algorithm="auto"` next to `"direct"`,
`"fft"` and Keras's own depthwise convolution.

    flock /tmp/structconv-bench.lock .venv/bin/python benchmarks/depthwise.py [--quick]

One run, one subprocess per Keras backend. Cases (float32, channels_last, padding "same", multiplier 1):

- 2-D, a RepLKNet stage: `2 x 56^2 x 128` channels, a 31x31 kernel;
- 3-D: `1 x 32^3 x 32` channels, a 13^3 kernel.

Implementations: what `DepthwiseConvND` runs (`structconv.ops.conv` with `groups=channels`, the Keras kernel
`(*k, channels, 1)` reshaped to `(*k, 1, channels)`) with `algorithm="auto"`, `"direct"` and `"fft"`, and
`keras.ops.depthwise_conv` (what `keras.layers.DepthwiseConv2D` calls; 2-D only: Keras has no 3-D
depthwise layer). Forward, and forward + backward (gradients w.r.t. input and kernel of `sum(y * g)`).
Compiled with `jax.jit` / `tf.function`, eager on torch; one thread per framework; interleaved rounds,
medians.
"""

import argparse
import json
import sys
import time

import numpy as np
from environment import machine, measure_interleaved, run_worker_process, to_backend, versions  # noqa: E402

from structconv.tuning.threads import limit_threads  # noqa: E402

PACKAGES = ("keras", "jax", "jaxlib", "torch", "tensorflow-cpu", "tensorflow", "numpy")
BACKENDS = ("torch", "jax", "tensorflow")
CASES = {
    "2-D 2 x 56^2 x 128, k=31": {"batch": 2, "spatial": (56, 56), "channels": 128, "k": 31},
    "3-D 1 x 32^3 x 32, k=13": {"batch": 1, "spatial": (32, 32, 32), "channels": 32, "k": 13},
}
QUICK_CASES = {
    "2-D 1 x 24^2 x 8, k=11 (--quick)": {"batch": 1, "spatial": (24, 24), "channels": 8, "k": 11},
    "3-D 1 x 12^3 x 4, k=5 (--quick)": {"batch": 1, "spatial": (12, 12, 12), "channels": 4, "k": 5},
}


def implementations(rank):
    import keras

    from structconv import ops as sops

    def structconv(algorithm):
        def forward(x, kernel):
            shape = tuple(kernel.shape)
            grouped = keras.ops.reshape(kernel, (*shape[:-2], 1, shape[-2] * shape[-1]))
            return sops.conv(x, grouped, padding="same", groups=shape[-2], algorithm=algorithm)

        return forward

    found = {f"structconv {a}": structconv(a) for a in ("auto", "direct", "fft")}
    if rank == 2:
        found["keras.ops.depthwise_conv"] = lambda x, kernel: keras.ops.depthwise_conv(x, kernel, 1, "same")
    return found


def compiled(backend, forward, cotangent):
    """Blocking callables of `(x, kernel)`: the forward, and the gradients of `sum(forward * cotangent)`."""
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        fwd = jax.jit(forward)
        grad = jax.jit(jax.grad(lambda x, k: jnp.sum(forward(x, k) * cotangent), argnums=(0, 1)))
        return lambda x, k: jax.block_until_ready(fwd(x, k)), lambda x, k: jax.block_until_ready(grad(x, k))
    if backend == "tensorflow":
        import tensorflow as tf

        def gradient(x, k):
            with tf.GradientTape() as tape:
                tape.watch([x, k])
                value = tf.reduce_sum(forward(x, k) * cotangent)
            return tape.gradient(value, [x, k])

        fwd, grad = tf.function(forward, autograph=False), tf.function(gradient, autograph=False)
        return lambda x, k: fwd(x, k).numpy(), lambda x, k: [g.numpy() for g in grad(x, k)]
    import torch

    def run_forward(x, k):
        with torch.no_grad():
            return forward(x, k)

    def run_gradient(x, k):
        leaves = [x.detach().requires_grad_(True), k.detach().requires_grad_(True)]
        return torch.autograd.grad((forward(*leaves) * cotangent).sum(), leaves)

    return run_forward, run_gradient


def run_worker(backend, quick, rounds, threads):
    limit_threads(threads)
    import keras

    assert keras.backend.backend() == backend
    rng = np.random.default_rng(0)
    for name, case in (QUICK_CASES if quick else CASES).items():
        rank = len(case["spatial"])
        x_np = rng.standard_normal((case["batch"], *case["spatial"], case["channels"])).astype(np.float32)
        k_np = (rng.standard_normal((*(case["k"],) * rank, case["channels"], 1)) / case["k"] ** rank).astype(
            np.float32)
        g = to_backend(rng.standard_normal(x_np.shape).astype(np.float32), backend)
        x, kernel = to_backend(x_np, backend), to_backend(k_np, backend)
        functions, outputs = {}, {}
        for impl, forward in implementations(rank).items():
            fwd, grad = compiled(backend, forward, g)
            outputs[impl] = np.asarray(keras.ops.convert_to_numpy(fwd(x, kernel)))
            functions[f"{impl}|forward"] = lambda f=fwd, x=x, k=kernel: f(x, k)
            functions[f"{impl}|forward+backward"] = lambda f=grad, x=x, k=kernel: f(x, k)
        reference = outputs["structconv direct"]
        scale = float(np.max(np.abs(reference)))
        errors = {impl: float(np.max(np.abs(y - reference)) / scale) for impl, y in outputs.items()}
        times = measure_interleaved(functions, rounds, warmups=1)
        print(json.dumps({"backend": backend, "case": name, "rounds": rounds, "times": times,
                          "errors": errors}), flush=True)


def tables(records):
    lines = []
    for record in records:
        times = record["times"]
        names = list(dict.fromkeys(key.split("|")[0] for key in times))
        lines += [f"**{record['backend']}, {record['case']}** ({record['rounds']} rounds, medians)", "",
                  "| implementation | forward ms | / direct | fwd+bwd ms | / direct | rel. error vs direct |",
                  "|---|---:|---:|---:|---:|---:|"]
        for name in names:
            cells = []
            for part in ("forward", "forward+backward"):
                seconds = times[f"{name}|{part}"]
                cells += [f"{seconds * 1e3:.0f}", f"{seconds / times[f'structconv direct|{part}']:.2f}"]
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {record['errors'][name]:.1e} |")
        lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (3)")
    parser.add_argument("--quick", action="store_true", help="small cases, 2 rounds (a smoke test)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="subset of " + ",".join(BACKENDS))
    parser.add_argument("--threads", type=int, default=1, help="threads per framework (0: their default)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    rounds = 2 if args.quick else args.rounds
    if args.worker:
        run_worker(args.worker, args.quick, rounds, args.threads)
        return
    started = time.perf_counter()
    records, failed = [], []
    for backend in [b for b in args.backends.split(",") if b]:
        arguments = ["--rounds", str(rounds), "--threads", str(args.threads)]
        arguments += ["--quick"] if args.quick else []
        found, ok = run_worker_process(__file__, backend, arguments, 3600)
        records += found
        if not ok:
            failed.append(backend)
    print(f"Machine: {machine()}. Versions: {versions(PACKAGES)}. Threads: {args.threads}. "
          f"Total {time.perf_counter() - started:.0f} s.\n")
    print(tables(records))
    if failed:
        print(f"FAILED workers: {failed}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
