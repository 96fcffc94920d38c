"""4-D pooling on CPU: `structconv.ops.max_pool` / `avg_pool` (what `MaxPooling4D` / `AveragePooling4D`
call) next to what a user has today, and next to the same backend's 3-D pooling per element.

    flock /tmp/structconv-bench.lock .venv/bin/python benchmarks/pooling.py [--size 32] [--quick]

One run, one subprocess per Keras backend, results side by side. Input `2 x size^4 x 16` channels, float32,
pool 2 and pool 3 (strides = pool, padding "valid"), forward and forward + backward (the gradient of
`sum(y * g)` w.r.t. the input). Implementations:

- `structconv`: `structconv.ops.max_pool` / `avg_pool` in the backend's own layout (channels_first on torch,
  channels_last elsewhere); on torch also channels_last (Keras's default, which torch pays for with
  transposes around each pooling pass).
- the peer: on JAX `jax.lax.reduce_window` over the 6-D array (one 4-D window); on torch and TensorFlow a
  reshape onto the framework's 3-D pooling (`torch.nn.functional.max_pool3d` / `avg_pool3d` on
  `(batch, channels * size, size, size, size)`, `tf.nn.max_pool3d` / `avg_pool3d` on
  `(batch * size, size, size, size, channels)`) followed by a max / mean of strided slices along the
  remaining axis: the reshape-and-loop a user writes today.
- `3-D per element`: the backend's 3-D pooling of the same tensor seen as `(batch * size, size^3, channels)`
  (the same number of elements; `keras.ops.max_pool` / `average_pool`), the speed a 3-D user gets.

Functions run under `jax.jit` on JAX and `tf.function` on TensorFlow, eagerly on torch (forward under
`torch.no_grad()`), on one thread per framework by default (`--threads`), warmed up, then timed in
interleaved rounds (medians; the tables show ratios to the peer and to 3-D pooling per element).
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
POOLS = (2, 3)
MODES = ("max", "average")
CHANNELS, BATCH = 16, 2


def peer(backend, mode, k):
    """(name, function of x, layout) of what a user has today on `backend`."""
    if backend == "jax":
        import jax.numpy as jnp
        from jax import lax

        def reduce_window(x):
            window = (1, k, k, k, k, 1)
            if mode == "max":
                return lax.reduce_window(x, -jnp.inf, lax.max, window, window, "VALID")
            return lax.reduce_window(x, 0.0, lax.add, window, window, "VALID") / k**4

        return "jax.lax.reduce_window", reduce_window, "channels_last"
    if backend == "torch":
        import torch
        import torch.nn.functional as F

        def torch_reshape(x):  # (b, c, d1, d2, d3, d4)
            b, c, d1, d2, d3, d4 = x.shape
            pool = F.max_pool3d if mode == "max" else F.avg_pool3d
            y = pool(x.reshape(b, c * d1, d2, d3, d4), k).reshape(b, c, d1, *(n // k for n in (d2, d3, d4)))
            last = (d1 // k - 1) * k + 1
            slices = [y[:, :, j : j + last : k] for j in range(k)]
            return torch.stack(slices).amax(0) if mode == "max" else torch.stack(slices).mean(0)

        return "reshape + torch 3-D pooling", torch_reshape, "channels_first"
    import tensorflow as tf

    def tf_reshape(x):  # (b, d1, d2, d3, d4, c)
        b, d1, d2, d3, d4, c = x.shape
        pool = tf.nn.max_pool3d if mode == "max" else tf.nn.avg_pool3d
        y = pool(tf.reshape(x, (b * d1, d2, d3, d4, c)), k, k, "VALID")
        y = tf.reshape(y, (b, d1, *y.shape[1:]))
        last = (d1 // k - 1) * k + 1
        slices = tf.stack([y[:, j : j + last : k] for j in range(k)])
        return tf.reduce_max(slices, 0) if mode == "max" else tf.reduce_mean(slices, 0)

    return "reshape + tf 3-D pooling", tf_reshape, "channels_last"


def implementations(backend, mode, k):
    """{name: (function of x, layout)} for one backend, pooling mode and window."""
    import keras

    from structconv import ops as sops

    op = sops.max_pool if mode == "max" else sops.avg_pool
    native_layout = "channels_first" if backend == "torch" else "channels_last"
    found = {"structconv": (lambda x: op(x, k, data_format=native_layout), native_layout)}
    if backend == "torch":
        found["structconv channels_last"] = (lambda x: op(x, k, data_format="channels_last"), "channels_last")
    name, function, layout = peer(backend, mode, k)
    found[name] = (function, layout)
    native = keras.ops.max_pool if mode == "max" else keras.ops.average_pool

    def three_d(x):
        # strides given: with `strides=None` Keras's JAX pooling expands `pool_size` twice and fails.
        return native(keras.ops.reshape(x, (-1, *x.shape[2:])), k, k, data_format=native_layout)

    found["3-D per element"] = (three_d, native_layout)
    return found


def compiled(backend, forward, cotangent):
    """Blocking callables `forward(x)` and `gradient(x)` of `sum(forward(x) * cotangent)`."""
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        fwd = jax.jit(forward)
        grad = jax.jit(jax.grad(lambda x: jnp.sum(forward(x) * cotangent)))
        return lambda x: jax.block_until_ready(fwd(x)), lambda x: jax.block_until_ready(grad(x))
    if backend == "tensorflow":
        import tensorflow as tf

        def gradient(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                value = tf.reduce_sum(forward(x) * cotangent)
            return tape.gradient(value, x)

        fwd, grad = tf.function(forward, autograph=False), tf.function(gradient, autograph=False)
        return lambda x: fwd(x).numpy(), lambda x: grad(x).numpy()
    import torch

    def run_forward(x):
        with torch.no_grad():
            return forward(x)

    def run_gradient(x):
        leaf = x.detach().requires_grad_(True)
        return torch.autograd.grad((forward(leaf) * cotangent).sum(), leaf)

    return run_forward, run_gradient


def to_layout(array, layout):
    return np.ascontiguousarray(np.moveaxis(array, -1, 1)) if layout == "channels_first" else array


def to_numpy(value):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value))


def run_worker(backend, size, rounds, threads):
    limit_threads(threads)
    import keras

    assert keras.backend.backend() == backend
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((BATCH, *(size,) * 4, CHANNELS)).astype(np.float32)
    for mode in MODES:
        for k in POOLS:
            functions, errors = {}, {}
            expected = None
            for name, (forward, layout) in implementations(backend, mode, k).items():
                x = to_backend(to_layout(x_np, layout), backend)
                out_shape = tuple(to_numpy(forward(x)).shape)
                cotangent = to_backend(rng.standard_normal(out_shape).astype(np.float32), backend)
                fwd, grad = compiled(backend, forward, cotangent)
                y = to_numpy(fwd(x))
                if name != "3-D per element":  # the 4-D implementations compute the same thing
                    y = np.moveaxis(y, 1, -1) if layout == "channels_first" else y
                    expected = y if expected is None else expected
                    errors[name] = float(np.max(np.abs(y - expected)))
                functions[f"{name}|forward"] = lambda f=fwd, x=x: f(x)
                functions[f"{name}|forward+backward"] = lambda f=grad, x=x: f(x)
            times = measure_interleaved(functions, rounds)
            print(json.dumps({"backend": backend, "mode": mode, "k": k, "size": size, "rounds": rounds,
                              "times": times, "errors": errors}), flush=True)


def tables(records):
    lines = []
    for record in records:
        times = record["times"]
        names = list(dict.fromkeys(key.split("|")[0] for key in times))
        peer_name = next(n for n in names if not n.startswith(("structconv", "3-D")))
        lines += [f"**{record['backend']}, {record['mode']} pooling, pool {record['k']}, "
                  f"{BATCH} x {record['size']}^4 x {CHANNELS}** ({record['rounds']} rounds, medians)", "",
                  "| implementation | forward ms | / peer | / 3-D per element | fwd+bwd ms | / peer "
                  "| / 3-D per element |", "|---|---:|---:|---:|---:|---:|---:|"]
        for name in names:
            cells = []
            for part in ("forward", "forward+backward"):
                seconds = times[f"{name}|{part}"]
                cells += [f"{seconds * 1e3:.1f}", f"{seconds / times[f'{peer_name}|{part}']:.2f}",
                          f"{seconds / times[f'3-D per element|{part}']:.2f}"]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=32, help="spatial size of each of the 4 axes (32)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds (7)")
    parser.add_argument("--quick", action="store_true", help="size 8, 2 rounds (a smoke test)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="subset of " + ",".join(BACKENDS))
    parser.add_argument("--threads", type=int, default=1, help="threads per framework (0: their default)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    size, rounds = (8, 2) if args.quick else (args.size, args.rounds)
    if args.worker:
        run_worker(args.worker, size, rounds, args.threads)
        return
    started = time.perf_counter()
    records, failed = [], []
    for backend in [b for b in args.backends.split(",") if b]:
        arguments = ["--size", str(size), "--rounds", str(rounds), "--threads", str(args.threads)]
        found, ok = run_worker_process(__file__, backend, arguments, 3600)
        records += found
        if not ok:
            failed.append(backend)
    print(f"Machine: {machine()}. Versions: {versions(PACKAGES)}. Threads: {args.threads}. "
          f"Total {time.perf_counter() - started:.0f} s.\n")
    print(tables(records))
    for record in records:
        worst = max(record["errors"].values())
        print(f"{record['backend']} {record['mode']} k={record['k']}: largest difference between the 4-D "
              f"implementations {worst:.1e}")
    if failed:
        print(f"FAILED workers: {failed}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
