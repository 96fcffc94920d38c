"""TensorFlow grouped convolution where its own kernels cannot train it: one convolution per group ("split")
against one convolution with a block-diagonal kernel, and TensorFlow's grouped kernel ("native") where it
runs, forward and forward + backward, in a `tf.function`.

Run once per oneDNN setting, e.g.:

    TF_ENABLE_ONEDNN_OPTS=0 .venv/bin/python benchmarks/grouped_conv_tf.py
    TF_ENABLE_ONEDNN_OPTS=1 .venv/bin/python benchmarks/grouped_conv_tf.py

It sets `_BLOCK_DIAGONAL_MAX_GROUP_CHANNELS` in structconv/_backend/tensorflow_conv.py.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

# (channels, groups): 2 to 16 input channels per group.
CASES = [(16, 2), (16, 4), (32, 8), (32, 32), (64, 4)]
BATCH, SIZE, KERNEL, ROUNDS = 8, 32, 3, 7


def native(x, k, groups):
    return tf.nn.convolution(x, k, padding="SAME")


def split(x, k, groups):
    pairs = zip(tf.split(x, groups, axis=-1), tf.split(k, groups, axis=-1))
    return tf.concat([tf.nn.convolution(a, b, padding="SAME") for a, b in pairs], axis=-1)


def block_diagonal(x, k, groups):
    group_channels, filters = k.shape[-2], k.shape[-1]
    blocks = tf.reshape(k, (*k.shape[:2], 1, group_channels, groups, filters // groups))
    diagonal = tf.reshape(tf.eye(groups, dtype=k.dtype), (groups, 1, groups, 1))
    full = tf.reshape(blocks * diagonal, (*k.shape[:2], groups * group_channels, filters))
    return tf.nn.convolution(x, full, padding="SAME")


def milliseconds(function, x, k, groups, gradient):
    @tf.function
    def step(x, k):
        if not gradient:
            return function(x, k, groups)
        with tf.GradientTape() as tape:
            tape.watch([x, k])
            loss = tf.reduce_sum(function(x, k, groups) ** 2)
        return tape.gradient(loss, [x, k])

    try:
        step(x, k)
    except tf.errors.OpError:
        return None
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        [np.asarray(t) for t in tf.nest.flatten(step(x, k))]
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def main():
    print(f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', '(default)')}, "
          f"batch {BATCH}, {SIZE}x{SIZE}, kernel {KERNEL}x{KERNEL}, best of {ROUNDS}\n")
    print("| channels | groups | per group | pass | native ms | split ms | block-diagonal ms |")
    print("|---:|---:|---:|---|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for channels, groups in CASES:
        x = tf.constant(rng.standard_normal((BATCH, SIZE, SIZE, channels)), tf.float32)
        k = tf.constant(rng.standard_normal((KERNEL, KERNEL, channels // groups, channels)), tf.float32)
        np.testing.assert_allclose(split(x, k, groups), block_diagonal(x, k, groups), rtol=1e-4, atol=1e-3)
        for gradient in (False, True):
            row = [milliseconds(f, x, k, groups, gradient) for f in (native, split, block_diagonal)]
            cells = ["fails" if t is None else f"{t:.2f}" for t in row]
            print(f"| {channels} | {groups} | {channels // groups} | {'fwd+bwd' if gradient else 'fwd'} | "
                  + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
