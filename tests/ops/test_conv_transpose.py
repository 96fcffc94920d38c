"""`structconv.ops.conv_transpose`: the adjoint of `conv`, Keras's conventions, and the NumPy reference."""

import itertools
import random

import keras
import numpy as np
import pytest
import reference
from conftest import assert_close, compiled, dtype_name, stock_or_reference, stock_runs, tensor, to_numpy
from ops.padding_cases import PADDING_KINDS, PADDING_NAMES, operand_shape, random_padding

from structconv import ops as sops


def output_lengths(config):
    """The transposed output's spatial lengths, from the reference's own arithmetic."""
    rank = len(config["spatial"])
    extras = config["output_padding"]
    extras = [None] * rank if extras is None else reference.expand(extras, rank)
    return tuple(
        reference.conv_transpose_output_length(n, k, s, entry, extra, d)
        for n, k, s, d, entry, extra in zip(
            config["spatial"],
            config["kernel_size"],
            reference.expand(config["strides"], rank),
            reference.expand(config["dilation"], rank),
            reference.per_axis(config["padding"], rank),
            extras,
        )
    )


def is_adjoint_config(config):
    """True when the forward `conv` of an input of the transposed output's shape gives back `spatial`,
    i.e. when the adjoint identity is defined (Keras's "same" with `output_padding=0` and an even kernel
    extent is a case where it is not)."""
    rank = len(config["spatial"])
    lengths = output_lengths(config)
    if min(lengths) < 1:
        return False
    strides = reference.expand(config["strides"], rank)
    dilation = reference.expand(config["dilation"], rank)
    pairs = reference.padding_pairs(config["padding"], lengths, config["kernel_size"], strides, dilation)
    return all(
        L + b + a >= reference.extent(k, d)
        and reference.conv_output_length(L, k, s, (b, a), d) == n
        for L, n, k, s, d, (b, a) in zip(
            lengths, config["spatial"], config["kernel_size"], strides, dilation, pairs
        )
    )


def random_config(seed, rank, kind):
    rng = random.Random(seed)
    max_size = 5 if rank == 4 else 6
    while True:
        strides = tuple(rng.randint(1, 3) for _ in range(rank))
        config = {
            "spatial": tuple(rng.randint(2, max_size) for _ in range(rank)),
            "kernel_size": tuple(rng.randint(1, 3) for _ in range(rank)),
            "strides": rng.choice((strides, max(strides))),
            "dilation": rng.choice((1, 2, tuple(rng.randint(1, 2) for _ in range(rank)))),
            "padding": random_padding(kind, rank, rng, pair_max=(3, 2)),
            "output_padding": None,
            "in_channels": rng.randint(1, 3),
            "filters": rng.randint(1, 3),
            "data_format": rng.choice(("channels_last", "channels_first")),
            "batch": rng.randint(1, 2),
            "seed": seed,
            "kind": kind,
        }
        if rng.random() < 0.6:
            config["output_padding"] = tuple(
                rng.randint(0, s - 1) for s in reference.expand(config["strides"], rank)
            )
        if is_adjoint_config(config):
            return config


def _configs():
    configs = []
    for rank in (1, 2, 3, 4):
        for i, kind in enumerate(PADDING_KINDS):
            # Every kind for ranks 1-2; every other one (alternating) for 3, every third for 4.
            if rank == 3 and i % 2 == 0 or rank == 4 and i % 3:
                continue
            configs.append(random_config(10_000 * rank + 10 * i, rank, kind))
    return configs


CONFIGS = _configs()


def _config_id(c):
    return (
        f"r{len(c['spatial'])}-{c['padding']}-op{c['output_padding']}-s{c['strides']}"
        f"-d{c['dilation']}-{c['data_format'][9:]}-{c['seed']}"
    )


_COMPILED = {}


def _transpose(config, y, kernel, dtype="float64"):
    key = ("conv_transpose", _config_id(config))
    if key not in _COMPILED:

        def function(y, kernel):
            return sops.conv_transpose(
                y,
                kernel,
                strides=config["strides"],
                padding=config["padding"],
                output_padding=config["output_padding"],
                dilation_rate=config["dilation"],
                data_format=config["data_format"],
            )

        _COMPILED[key] = compiled(function)
    return _COMPILED[key](tensor(y, dtype), tensor(kernel, dtype))


def _operands(config):
    np_rng = np.random.default_rng(config["seed"])
    y = np_rng.standard_normal(operand_shape(config, config["spatial"], config["in_channels"]))
    kernel = np_rng.standard_normal(
        (*config["kernel_size"], config["filters"], config["in_channels"])
    )
    return np_rng, y, kernel


def test_configs_cover_every_form():
    assert {len(c["spatial"]) for c in CONFIGS} == {1, 2, 3, 4}
    assert {c["kind"] for c in CONFIGS} == set(PADDING_KINDS)
    assert {c["data_format"] for c in CONFIGS} == {"channels_last", "channels_first"}
    assert any(c["output_padding"] is not None and max(c["output_padding"]) > 0 for c in CONFIGS)
    assert any(c["output_padding"] is None and c["kind"] not in PADDING_NAMES[:2] for c in CONFIGS)
    assert any(
        max(reference.expand(c["strides"], len(c["spatial"]))) > 1
        and max(reference.expand(c["dilation"], len(c["spatial"]))) > 1
        for c in CONFIGS
    )


@pytest.mark.parametrize("config", CONFIGS, ids=_config_id)
def test_adjoint_of_conv(config):
    """<conv(x, k), y> == <x, conv_transpose(y, k)> with the same kernel array and arguments."""
    np_rng, y, kernel = _operands(config)
    xt = _transpose(config, y, kernel)
    assert tuple(xt.shape) == operand_shape(config, output_lengths(config), config["filters"])
    x = np_rng.standard_normal(tuple(xt.shape))
    cx = compiled(
        lambda x, kernel: sops.conv(
            x,
            kernel,
            strides=config["strides"],
            padding=config["padding"],
            dilation_rate=config["dilation"],
            data_format=config["data_format"],
        )
    )(tensor(x, "float64"), tensor(kernel, "float64"))
    assert tuple(cx.shape) == y.shape
    left = float(np.sum(to_numpy(cx) * y))
    right = float(np.sum(x * to_numpy(xt)))
    scale = float(np.sum(np.abs(to_numpy(cx) * y))) + 1.0
    assert abs(left - right) <= 1e-10 * scale, (left, right)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("config", CONFIGS, ids=_config_id)
def test_matches_reference(config, dtype):
    _, y, kernel = _operands(config)
    xt = _transpose(config, y, kernel, dtype)
    assert dtype_name(xt) == dtype
    expected = reference.conv_transpose_reference(
        y, kernel, config["strides"], config["padding"], config["output_padding"], config["dilation"],
        config["data_format"],
    )
    assert_close(xt, expected, dtype)


def _keras_configs():
    """Ranks 1-3, "valid"/"same", with and without `output_padding`, over kernel extents odd and even."""
    rng = random.Random(2024)
    configs = []
    for rank, padding, use_output_padding in itertools.product(
        (1, 2, 3), ("valid", "same"), (False, True)
    ):
        for i in range(2):
            strides = (1, 2, 3)[(i + rank) % 3]
            dilation = (1, 2)[(i + rank + int(use_output_padding)) % 2]
            output_padding = None
            if use_output_padding:
                output_padding = tuple(rng.randint(0, strides - 1) for _ in range(rank))
            configs.append(
                {
                    "spatial": tuple(rng.randint(2, 5) for _ in range(rank)),
                    "kernel_size": tuple(rng.randint(1, 4) for _ in range(rank)),
                    "strides": strides,
                    "dilation": dilation,
                    "padding": padding,
                    "output_padding": output_padding,
                    "in_channels": rng.randint(1, 3),
                    "filters": rng.randint(1, 3),
                    "data_format": ("channels_last", "channels_first")[i % 2],
                    "batch": 2,
                    "seed": 500 + len(configs),
                }
            )
    return configs


KERAS_CONFIGS = _keras_configs()


def _keras_rejects(config, backend):
    """Cases TensorFlow's Keras cannot compute: output lengths that TensorFlow's own "same" arithmetic
    does not map back to the input ("same", `output_padding=0`, even kernel extent)."""
    return backend == "tensorflow" and not is_adjoint_config(config)


def _keras_conv_transpose(config, y, kernel):
    key = ("keras", _config_id(config))
    if key not in _COMPILED:
        _COMPILED[key] = compiled(
            lambda y, kernel: keras.ops.conv_transpose(
                y, kernel, config["strides"], config["padding"], config["output_padding"],
                config["data_format"], config["dilation"],
            )
        )
    return _COMPILED[key](tensor(y, "float32"), tensor(kernel, "float32"))


def _keras_reference(config, y, kernel):
    return reference.keras_conv_transpose_reference(
        y, kernel, config["strides"], config["padding"], config["output_padding"], config["dilation"],
        config["data_format"],
    )


@pytest.mark.parametrize("config", KERAS_CONFIGS, ids=_config_id)
def test_keras_reference_matches_keras(config, backend):
    """Guards `reference.keras_conv_transpose_reference` itself against `keras.ops.conv_transpose`."""
    _, y, kernel = _operands(config)
    if _keras_rejects(config, backend):
        with pytest.raises(Exception):  # noqa: B017 - TensorFlow raises several error types here
            keras.ops.conv_transpose(y.astype("float32"), kernel.astype("float32"), config["strides"],
                                     config["padding"], config["output_padding"],
                                     config["data_format"], config["dilation"])
        return
    # float32: TensorFlow's float64 CPU kernels reject channels_first and dilation here.
    y32, kernel32 = y.astype("float32"), kernel.astype("float32")
    if config["data_format"] == "channels_first" and not stock_runs(
        lambda: _keras_conv_transpose(config, y32, kernel32)
    ):
        # No channels_first kernel here (TensorFlow without oneDNN): the same convention, channels_last.
        config = {**config, "data_format": "channels_last"}
        y32 = np.moveaxis(y32, 1, -1)
    if not stock_runs(lambda: _keras_conv_transpose(config, y32, kernel32)):
        pytest.skip("TensorFlow has no CPU kernel for this case here (no oneDNN: dilated transposed "
                    "convolution): no Keras result to guard the reference with; "
                    "test_matches_keras_conv_transpose checks structconv against the reference")
    expected = _keras_conv_transpose(config, y32, kernel32)
    assert_close(expected, _keras_reference(config, y32, kernel32), "float32")


@pytest.mark.parametrize("config", KERAS_CONFIGS, ids=_config_id)
def test_matches_keras_conv_transpose(config, backend):
    """Equal to `keras.ops.conv_transpose` (on TensorFlow, where its Keras cannot compute a case, equal
    to the NumPy rendering of Keras's convention instead)."""
    _, y, kernel = _operands(config)
    y32, kernel32 = y.astype("float32"), kernel.astype("float32")
    result = _transpose(config, y32, kernel32, "float32")
    if _keras_rejects(config, backend):
        expected = _keras_reference(config, y32, kernel32)
    else:
        expected = stock_or_reference(lambda: _keras_conv_transpose(config, y32, kernel32),
                                      lambda: _keras_reference(config, y32, kernel32))
    assert_close(result, expected, "float32")


@pytest.mark.parametrize(("rank", "kernel_size"), [(1, 2), (1, 4), (2, 2), (3, 2)])
def test_same_even_kernel_output_padding_zero_matches_keras(rank, kernel_size, backend):
    """Even kernel, "same", `output_padding=0`: Keras (JAX, torch) returns `full[e // 2 :][:L]`.

    A minimal, separate case of `test_matches_keras_conv_transpose` so that a failure is easy to read.
    """
    np_rng = np.random.default_rng(rank)
    y = np_rng.standard_normal((1, *(4,) * rank, 2)).astype("float32")
    kernel = np_rng.standard_normal((*(kernel_size,) * rank, 3, 2)).astype("float32")
    result = sops.conv_transpose(y, kernel, strides=1, padding="same", output_padding=0)
    if backend == "tensorflow":  # TensorFlow's Keras rejects this case
        expected = reference.keras_conv_transpose_reference(y, kernel, 1, "same", 0, 1)
    else:
        expected = keras.ops.conv_transpose(y, kernel, 1, "same", output_padding=0)
    assert_close(result, expected, "float32")
    assert_close(result, reference.conv_transpose_reference(y, kernel, 1, "same", 0, 1), "float32")


@pytest.mark.parametrize("rank", [1, 3])
def test_output_shape_and_dtype(rank):
    """Eager calls (the sweeps above may run compiled), in both dtypes."""
    y = np.ones((2, *(3,) * rank, 4))
    kernel = np.ones((*(3,) * rank, 5, 4))
    for dtype in ("float32", "float64"):
        result = sops.conv_transpose(tensor(y, dtype), tensor(kernel, dtype), strides=2, padding="same")
        assert dtype_name(result) == dtype
        assert_close(result, reference.conv_transpose_reference(y, kernel, 2, "same"), dtype)
