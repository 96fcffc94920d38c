"""Trains one small structconv model on one device and under a distribution API; run as a subprocess.

`tests/robustness/test_distribution.py` starts this script, because each distribution API must be set up
before its framework starts: `XLA_FLAGS` before JAX, logical CPU devices before TensorFlow, a process group
per torch process. Usage:

    python distributed_worker.py jax OUTPUT.npz
    python distributed_worker.py tensorflow OUTPUT.npz
    python distributed_worker.py torch-ddp OUTPUT.npz RANK WORLD_SIZE PORT   # one per process

Each writes the final weights (`single/<i>` and `distributed/<i>`; torch: rank 0 also trains the single-device
model, the other ranks write `distributed/<i>` only), the number of devices or processes the distributed run
used and the constraint residuals to an `.npz` file. Importing the module does nothing.
"""

import datetime
import os
import sys

import numpy as np

BATCH, STEPS, LEARNING_RATE = 8, 4, 0.01
INPUT_SHAPE = (8, 8, 2)
CONNECTED = np.array([[1, 0, 1, 1], [1, 1, 0, 1], [0, 1, 1, 1], [1, 1, 1, 0]], "int8")


def build_model():
    """One layer of each kind the issue names: parametrized (ZeroSum), masked, FFT, complex (phase-only),
    rank 4; small enough to train in a second on CPU."""
    import keras

    from structconv import layers
    from structconv import parametrizations as P

    inputs = keras.Input(INPUT_SHAPE)
    h = layers.Conv2D(4, 3, padding="same", kernel_parametrization="zero_sum", name="zero_sum")(inputs)
    h = layers.Conv2D(4, 3, padding="same", kernel_parametrization=P.Mask(CONNECTED), name="mask")(h)
    h = layers.Conv2D(4, 5, padding="same", algorithm="fft", activation="tanh", name="fft")(h)
    field = layers.PhaseModulation(name="phase")(h)
    field = layers.ComplexConv2D(
        2, 3, padding="same", kernel_parametrization=P.UnitModulus(), name="complex"
    )(field)
    h = layers.Intensity(name="intensity")(field)  # (8, 8, 2)
    h = keras.layers.Reshape((2, 4, 2, 4, 2))(h)
    h = layers.Conv4D(3, 2, padding="same", activation="tanh", name="conv4d")(h)
    outputs = keras.layers.Dense(2, name="head")(keras.layers.Flatten()(h))
    return keras.Model(inputs, outputs)


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH * STEPS, *INPUT_SHAPE)).astype("float32")
    y = rng.standard_normal((BATCH * STEPS, 2)).astype("float32")
    return x, y


def initial_weights():
    import keras

    keras.utils.set_random_seed(0)
    return build_model().get_weights()


def fit(model, weights):
    """`STEPS` steps of plain SGD (no momentum: the comparison is then free of optimizer state)."""
    import keras

    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE), loss="mse")
    x, y = data()
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    return model.get_weights()


def constraint_report(model):
    """Residuals of every constraint the model holds, in float64: they must be at float32 rounding."""
    import keras

    def numpy(x):
        return np.asarray(keras.ops.convert_to_numpy(x), np.float64)

    zero_sum = numpy(model.get_layer("zero_sum").kernel)
    mask = numpy(model.get_layer("mask").kernel)
    real, imag = (numpy(part) for part in model.get_layer("complex").kernel)
    return {
        "zero_sum_residual": (
            np.abs(zero_sum.sum(axis=(0, 1))).max() / np.abs(zero_sum).sum(axis=(0, 1)).max()
        ),
        "masked_max": np.abs(mask[:, :, CONNECTED == 0]).max(),
        "unit_modulus_residual": np.abs(np.hypot(real, imag) - 1.0).max(),
    }


def save(path, initial, **arrays):
    np.savez(path, **{f"initial/{i}": w for i, w in enumerate(initial)}, **arrays)


def run_jax(path):
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    import jax
    import keras

    devices = jax.devices("cpu")
    weights = initial_weights()
    single = fit(build_model(), weights)
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    model = build_model()
    distributed = fit(model, weights)
    # Every variable lives on both devices, replicated.
    placements = {len(v.value.sharding.device_set) for v in model.weights}
    save(path, weights, devices=len(devices), placements=sorted(placements),
         **_arrays(single, distributed),
         **constraint_report(model))


def run_tensorflow(path):
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    weights = initial_weights()
    single = fit(build_model(), weights)
    strategy = tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")])
    with strategy.scope():
        model = build_model()
        distributed = fit(model, weights)
    # Every variable is mirrored: one copy per device.
    placements = {len(getattr(v.value, "values", ())) for v in model.weights}
    save(path, weights, devices=strategy.num_replicas_in_sync, placements=sorted(placements),
         **_arrays(single, distributed),
         **constraint_report(model))


def _torch_train(model, x, y, wrapped=None):
    """A plain PyTorch loop: the Keras model is a `torch.nn.Module`."""
    import torch

    module = wrapped or model
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    for step in range(STEPS):
        batch = slice(step * len(x) // STEPS, (step + 1) * len(x) // STEPS)
        optimizer.zero_grad()
        prediction = module(torch.as_tensor(x[batch]))
        loss = torch.mean((prediction - torch.as_tensor(y[batch])) ** 2)
        loss.backward()
        optimizer.step()


def run_torch_ddp(path, rank, world_size, port):
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world_size, timeout=datetime.timedelta(seconds=120))
    try:
        weights = initial_weights()
        model = build_model()
        model.set_weights(weights)
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        x, y = data()
        # Each process takes its share of every global batch; DDP averages the gradients, which for
        # equal shares is the gradient of the global mean loss.
        per_step = BATCH // world_size
        local = np.concatenate(
            [np.arange(s * BATCH + rank * per_step, s * BATCH + (rank + 1) * per_step) for s in range(STEPS)]
        )
        _torch_train(model, x[local], y[local], wrapped=ddp)
        distributed = model.get_weights()
        report = constraint_report(model)
    finally:
        dist.destroy_process_group()
    single = None
    if rank == 0:  # the single-device run, in the same process to save a start-up
        model = build_model()
        model.set_weights(weights)
        _torch_train(model, x, y)
        single = model.get_weights()
    arrays = _arrays(distributed, single, prefix="distributed", second_prefix="single")
    save(path, weights, devices=world_size, **arrays,
         **report)


def _arrays(first, second=None, prefix="single", second_prefix="distributed"):
    arrays = {f"{prefix}/{i}": w for i, w in enumerate(first)}
    if second is not None:
        arrays.update({f"{second_prefix}/{i}": w for i, w in enumerate(second)})
    return arrays


def main(argv):
    mode, path = argv[0], argv[1]
    if mode == "jax":
        run_jax(path)
    elif mode == "tensorflow":
        run_tensorflow(path)
    elif mode == "torch-ddp":
        run_torch_ddp(path, int(argv[2]), int(argv[3]), int(argv[4]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
