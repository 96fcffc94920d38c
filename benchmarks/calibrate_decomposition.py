"""How should convolutions above rank 3 be decomposed, per backend? Sets `DECOMPOSE_TO_RANK`.

    .venv/bin/python benchmarks/calibrate_decomposition.py [--cpu-time] [--rounds 3] [--json PATH]

`structconv.ops.decomposition` peels the leading spatial axes of a rank-4+ convolution, stacks the
peeled kernel taps into native calls (along the input channels or along the filters: the plan's
`direct`, which the planner measures where the profile's preference is not clearly best) and runs
the backend's native convolution of rank `DECOMPOSE_TO_RANK` (see
`structconv/_backend/*.py`). This script times, on each Keras backend (one subprocess each:
`KERAS_BACKEND` is fixed per process), the forward pass and the forward + backward pass (gradients of
`sum(y * cotangent)` with respect to input and kernel) of rank 4, 5 and 6 convolutions for every
candidate: native rank 3 or 2, stacking "inputs" or "filters", and on JAX also no decomposition at
all (`jax.lax.conv_general_dilated` with every spatial axis). It prints the median times and the
winner per backend, the candidate with the smallest geometric mean time over all shapes and both
passes; the backend's constants are set to it by hand.

The candidates of one shape and pass are timed round-robin (A, B, C, A, B, C, ...) after a warm-up
each, so that load from other processes hits them alike. `--cpu-time` pins each worker to one core
and measures its CPU time instead of wall time: a robust measure of work on a shared, loaded machine
(it ignores how well each candidate uses the second core). JAX runs jitted, TensorFlow in a
`tf.function`, torch eagerly; float32, batch 2, padding "valid", channels_last.
"""

import argparse
import json
import math
import os
import statistics
import time

import numpy as np
from environment import run_worker_process  # noqa: E402  (this folder is on sys.path)

# One shape per rank: the N-D cases (a), (c) and (d) of benchmarks/ndconv.py.
SHAPES = {
    4: {"size": 16, "cin": 8, "cout": 8, "k": 3},
    5: {"size": 10, "cin": 4, "cout": 4, "k": 3},
    6: {"size": 8, "cin": 2, "cout": 2, "k": 3},
}
BATCH = 2
BACKENDS = ("jax", "torch", "tensorflow")
NATIVE = "native"  # no decomposition: the backend's own N-D convolution (JAX only)
STACKINGS = ("inputs", "filters")


def candidates(backend):
    """(DECOMPOSE_TO_RANK, DECOMPOSE_STACKING) pairs, as labels "3/inputs"; "native" on JAX."""
    found = [f"{rank}/{stacking}" for rank in (3, 2) for stacking in STACKINGS]
    return found + [NATIVE] if backend == "jax" else found


def operands(rank, shape, seed=0):
    rng = np.random.default_rng(seed)
    out = shape["size"] - shape["k"] + 1
    x = rng.standard_normal((BATCH, *[shape["size"]] * rank, shape["cin"]), dtype=np.float32)
    w = rng.standard_normal((*[shape["k"]] * rank, shape["cin"], shape["cout"]), dtype=np.float32)
    ct = rng.standard_normal((BATCH, *[out] * rank, shape["cout"]), dtype=np.float32)
    return x, w, ct


def _conv_with_target(target, rank):
    """The direct `structconv.ops.conv` decomposed as `target` says: the backend's `DECOMPOSE_TO_RANK` set
    while it runs (read when it is traced), the stacking by the plan (`Plan.direct`)."""
    import dataclasses

    from structconv._backend import get_backend
    from structconv.ops.arguments import conv_arguments
    from structconv.ops.conv import prepare_conv
    from structconv.ops.execute import execute

    backend = get_backend()
    if target == NATIVE:
        to_rank, method = rank, "native"  # peels nothing: one native rank-`rank` call
    else:
        to_rank, method = target.split("/")
        to_rank = int(to_rank)
    args = conv_arguments(rank, padding="valid", algorithm="direct")

    def conv(x, w):
        saved = backend.DECOMPOSE_TO_RANK
        backend.DECOMPOSE_TO_RANK = to_rank
        try:
            problem, plan = prepare_conv(x, w, args)
            return execute(dataclasses.replace(plan, direct=method), problem, x, w)
        finally:
            backend.DECOMPOSE_TO_RANK = saved

    return conv


def runners(backend, rank, target, x, w, ct):
    """(forward, forward + backward) callables that block until their result is computed."""
    conv = _conv_with_target(target, rank)
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        x, w, ct = jnp.asarray(x), jnp.asarray(w), jnp.asarray(ct)
        forward = jax.jit(conv)
        both = jax.jit(jax.value_and_grad(lambda x, w: jnp.sum(conv(x, w) * ct), (0, 1)))
        return (lambda: forward(x, w).block_until_ready(),
                lambda: jax.block_until_ready(both(x, w)))
    if backend == "torch":
        import torch

        x, w, ct = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(ct)

        def forward():
            with torch.no_grad():
                conv(x, w)

        def both():
            xg, wg = x.detach().requires_grad_(), w.detach().requires_grad_()
            torch.autograd.grad(torch.sum(conv(xg, wg) * ct), (xg, wg))

        return forward, both
    import tensorflow as tf

    x, w, ct = tf.constant(x), tf.constant(w), tf.constant(ct)
    forward = tf.function(conv)

    @tf.function
    def both_graph(x, w):
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            loss = tf.reduce_sum(conv(x, w) * ct)
        return loss, tape.gradient(loss, [x, w])

    return lambda: forward(x, w).numpy(), lambda: both_graph(x, w)[0].numpy()


def run_worker(backend, rounds, cpu_time):
    clock = time.perf_counter
    if cpu_time:
        # Before any framework starts its thread pools, so that they size themselves to one core.
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        clock = time.process_time
    for rank, shape in SHAPES.items():
        data = operands(rank, shape)
        for mode in ("forward", "forward+backward"):
            timed = []
            for target in candidates(backend):
                fn = runners(backend, rank, target, *data)[mode == "forward+backward"]
                fn()  # compile / trace
                fn()
                timed.append((target, fn, []))
            for _ in range(rounds):
                for _, fn, times in timed:
                    start = clock()
                    fn()
                    times.append(clock() - start)
            for target, _, times in timed:
                print(json.dumps({"backend": backend, "rank": rank, "mode": mode, "target": target,
                                  "seconds": statistics.median(times), "times": times}), flush=True)


def winners(records):
    """Per backend: the target with the smallest geometric mean time over ranks and passes."""
    result = {}
    for backend in sorted({r["backend"] for r in records}):
        mine = [r for r in records if r["backend"] == backend]
        scores = {}
        for target in dict.fromkeys(r["target"] for r in mine):
            times = [r["seconds"] for r in mine if r["target"] == target]
            scores[target] = math.exp(sum(math.log(t) for t in times) / len(times))
        result[backend] = (min(scores, key=scores.get), scores)
    return result


def table(records):
    labels = candidates("jax")
    lines = ["| backend | rank | shape | pass | " + " | ".join(labels) + " |",
             "|---|---|---|---|" + "---:|" * len(labels)]
    index = {(r["backend"], r["rank"], r["mode"], r["target"]): r["seconds"] for r in records}
    for backend in dict.fromkeys(r["backend"] for r in records):
        for rank, shape in SHAPES.items():
            for mode in ("forward", "forward+backward"):
                times = [index.get((backend, rank, mode, t)) for t in labels]
                best = min(t for t in times if t is not None)
                cells = ["" if t is None else (f"**{t * 1e3:.0f}**" if t == best else f"{t * 1e3:.0f}")
                         for t in times]
                described = (f'{shape["size"]}^{rank}, {shape["cin"]}->{shape["cout"]} ch, '
                             f'k={shape["k"]}')
                lines.append(f"| {backend} | {rank} | {described} | {mode} | " + " | ".join(cells)
                             + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed repeats of each candidate")
    parser.add_argument("--cpu-time", action="store_true",
                        help="one core per worker, CPU time instead of wall time (for a loaded machine)")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--json", metavar="PATH", help="also write the raw results as JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        run_worker(options.worker, options.rounds, options.cpu_time)
        return
    records = []
    for backend in options.backends.split(","):
        arguments = ["--rounds", str(options.rounds)] + (["--cpu-time"] if options.cpu_time else [])
        found, ok = run_worker_process(__file__, backend, arguments, 1800)
        if not ok:
            raise SystemExit(f"{backend} worker failed")
        records += found
    clock = "CPU ms on one core" if options.cpu_time else "wall ms"
    print(f"## Decomposition calibration: batch {BATCH}, float32, padding valid; median {clock}\n")
    print(table(records))
    print("\n| backend | winner (DECOMPOSE_TO_RANK/DECOMPOSE_STACKING) | geometric mean ms per candidate |")
    print("|---|---|---|")
    chosen = winners(records)
    for backend, (best, scores) in chosen.items():
        listed = ", ".join(f"{t}: {s * 1e3:.0f}" for t, s in scores.items())
        print(f"| {backend} | {best} | {listed} |")
    if options.json:
        with open(options.json, "w") as out:
            json.dump({"records": records,
                       "winners": {b: best for b, (best, _) in chosen.items()}}, out, indent=2)


if __name__ == "__main__":
    main()
