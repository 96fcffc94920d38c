"""`structconv.ops.conv` against the NumPy reference, for ranks 1-5 and every argument form."""

import itertools
import random

import keras
import numpy as np
import pytest
import reference
from conftest import assert_close, compiled, dtype_name, stock_or_reference, tensor
from ops.padding_cases import PADDING_KINDS, PADDING_MODES, padding_fits, random_padding

from structconv import ops as sops


def random_config(seed, rank, kind, mode):
    """A seeded configuration of one padding kind and mode; the rest is random (small shapes)."""
    rng = random.Random(seed)
    max_size = 5 if rank >= 5 else (6 if rank == 4 else 8)
    while True:
        spatial = tuple(rng.randint(4, max_size) for _ in range(rank))
        kernel_size = tuple(rng.randint(1, 3 if rank < 5 else 2) for _ in range(rank))
        strides = tuple(rng.randint(1, 2) for _ in range(rank))
        dilation = tuple(rng.randint(1, 2) for _ in range(rank))
        groups = rng.choice((1, 1, 2))
        channels = groups * rng.randint(1, 2)
        filters = groups * rng.randint(1, 2)
        padding = random_padding(kind, rank, rng)
        if padding_fits(spatial, kernel_size, strides, dilation, padding, mode):
            break
    return {
        "spatial": spatial,
        "kernel_size": kernel_size,
        "strides": rng.choice((strides, max(strides))),
        "dilation": rng.choice((dilation, max(dilation))),
        "groups": groups,
        "channels": channels,
        "filters": filters,
        "padding": padding,
        "mode": mode,
        "data_format": rng.choice(("channels_last", "channels_first")),
        "batch": rng.randint(1, 2),
        "seed": seed,
        "kind": kind,
    }


def _fix_uniform(config):
    """Re-checks validity after strides or dilation were collapsed to one int."""
    rank = len(config["spatial"])
    strides = reference.expand(config["strides"], rank)
    dilation = reference.expand(config["dilation"], rank)
    return padding_fits(
        config["spatial"], config["kernel_size"], strides, dilation, config["padding"], config["mode"]
    )


def _configs():
    cases = []
    # Every (padding kind, mode) pair once, spread over ranks 1-3; then a few for ranks 4 and 5.
    for i, (kind, mode) in enumerate(itertools.product(PADDING_KINDS, PADDING_MODES)):
        rank = 1 + i % 3
        cases.append((rank, kind, mode, 1000 * rank + i))
    for i, kind in enumerate(("valid", "same", "full", "causal", "mixed")):
        cases.append((4, kind, PADDING_MODES[i % 4], 4000 + i))
    for i, (kind, mode) in enumerate([("same", "reflect"), ("mixed", "circular"), ("pair", "zeros")]):
        cases.append((5, kind, mode, 5000 + i))
    configs = []
    for rank, kind, mode, seed in cases:
        for attempt in itertools.count():
            config = random_config(seed + 100_000 * attempt, rank, kind, mode)
            if _fix_uniform(config):
                break
        configs.append(config)
    return configs


CONFIGS = _configs()


def _config_id(config):
    rank = len(config["spatial"])
    return f"r{rank}-{config['padding']}-{config['mode']}-{config['data_format'][9:]}-{config['seed']}"


def _operands(config, np_rng):
    shape = (config["batch"], *config["spatial"], config["channels"])
    if config["data_format"] == "channels_first":
        shape = (config["batch"], config["channels"], *config["spatial"])
    x = np_rng.standard_normal(shape)
    kernel = np_rng.standard_normal(
        (*config["kernel_size"], config["channels"] // config["groups"], config["filters"])
    )
    return x, kernel


def _reference(config, x, kernel):
    spatial = config["spatial"]
    rank = len(spatial)
    pairs = reference.padding_pairs(
        config["padding"],
        spatial,
        config["kernel_size"],
        reference.expand(config["strides"], rank),
        reference.expand(config["dilation"], rank),
    )
    return reference.conv_reference(
        x,
        kernel,
        config["strides"],
        pairs,
        config["dilation"],
        config["groups"],
        config["mode"],
        config["data_format"],
    )


def _run(config, x, kernel, dtype):
    def function(x, kernel):
        return sops.conv(
            x,
            kernel,
            strides=config["strides"],
            padding=config["padding"],
            dilation_rate=config["dilation"],
            groups=config["groups"],
            data_format=config["data_format"],
            padding_mode=config["mode"],
        )

    return compiled(function)(tensor(x, dtype), tensor(kernel, dtype))


def test_configs_cover_every_form():
    """The generated cases exercise every padding kind, mode, rank, data format, groups and strides with
    dilation together (guards the generator itself)."""
    ranks = {len(c["spatial"]) for c in CONFIGS}
    modes = {c["mode"] for c in CONFIGS}
    formats = {c["data_format"] for c in CONFIGS}
    assert ranks == {1, 2, 3, 4, 5}
    assert modes == set(PADDING_MODES)
    assert {(c["kind"], c["mode"]) for c in CONFIGS} == set(
        itertools.product(PADDING_KINDS, PADDING_MODES)
    )
    assert formats == {"channels_last", "channels_first"}
    assert any(c["groups"] > 1 for c in CONFIGS)
    assert any(
        max(np.atleast_1d(c["strides"])) > 1 and max(np.atleast_1d(c["dilation"])) > 1 for c in CONFIGS
    )
    assert any(isinstance(c["padding"], tuple) and len(set(map(type, c["padding"]))) > 1
               for c in CONFIGS)


@pytest.mark.parametrize("config", CONFIGS, ids=_config_id)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv_matches_reference(config, dtype):
    np_rng = np.random.default_rng(config["seed"])
    x, kernel = _operands(config, np_rng)
    y = _run(config, x, kernel, dtype)
    assert dtype_name(y) == dtype
    assert_close(y, _reference(config, x, kernel), dtype)


@pytest.mark.parametrize(
    ("padding", "mode"),
    [
        (("causal", "same", (0, 2)), "zeros"),
        (("causal", "same", (0, 2)), "reflect"),
        (("full", 1, "valid"), "replicate"),
        (((2, 0), "causal", "same"), "circular"),
    ],
)
def test_mixed_per_axis_padding_rank3(padding, mode):
    np_rng = np.random.default_rng(7)
    x = np_rng.standard_normal((2, 5, 6, 7, 3))
    kernel = np_rng.standard_normal((3, 2, 3, 3, 4))
    strides, dilation = (1, 2, 2), (2, 1, 2)
    y = compiled(lambda x, k: sops.conv(x, k, strides, padding, dilation, padding_mode=mode))(
        tensor(x, "float64"), tensor(kernel, "float64")
    )
    pairs = reference.padding_pairs(padding, x.shape[1:-1], kernel.shape[:3], strides, dilation)
    assert_close(y, reference.conv_reference(x, kernel, strides, pairs, dilation, 1, mode), "float64")


@pytest.mark.parametrize("rank", [1, 2, 3, 4])
def test_strides_with_dilation_and_groups(rank):
    np_rng = np.random.default_rng(rank)
    spatial = (7, 6, 5, 5)[:rank]
    x = np_rng.standard_normal((2, *spatial, 4))
    kernel = np_rng.standard_normal((*(3,) * rank, 2, 6))
    y = sops.conv(tensor(x, "float64"), tensor(kernel, "float64"), strides=2, padding="same",
                  dilation_rate=2, groups=2)
    pairs = reference.padding_pairs("same", spatial, kernel.shape[:rank], 2, 2)
    assert_close(y, reference.conv_reference(x, kernel, 2, pairs, 2, 2), "float64")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rank", [1, 3, 4])
def test_output_dtype_follows_input(rank, dtype):
    x = np.ones((1, *(4,) * rank, 2))
    kernel = np.ones((*(2,) * rank, 2, 3))
    y = sops.conv(tensor(x, dtype), tensor(kernel, dtype), padding="same")
    assert dtype_name(y) == dtype
    pairs = reference.padding_pairs("same", x.shape[1:-1], kernel.shape[:rank], 1, 1)
    assert_close(y, reference.conv_reference(x, kernel, 1, pairs, 1), dtype)


def _keras_configs():
    rng = random.Random(99)
    configs = []
    for rank, padding, data_format, i in itertools.product(
        (1, 2, 3), ("valid", "same"), ("channels_last", "channels_first"), range(2)
    ):
        groups = rng.choice((1, 2))
        # Alternate: strides only, dilation only, both together (TensorFlow's Keras rejects the last).
        strides, dilation = [(2, 1), (1, 2), (2, 2), (1, 1)][(rank + i + len(padding)) % 4]
        configs.append(
            {
                "rank": rank,
                "padding": padding,
                "data_format": data_format,
                "groups": groups,
                "strides": strides,
                "dilation": dilation,
                "kernel": rng.randint(1, 3),
                "seed": 100 * rank + i,
            }
        )
    return configs


@pytest.mark.parametrize(
    "config", _keras_configs(),
    ids=lambda c: f"r{c['rank']}-{c['padding']}-{c['data_format'][9:]}-s{c['strides']}d{c['dilation']}"
)
def test_conv_matches_keras_ops_conv(config, backend):
    rank, groups = config["rank"], config["groups"]
    np_rng = np.random.default_rng(config["seed"])
    spatial = tuple(np_rng.integers(5, 9, rank))
    if config["data_format"] == "channels_first":
        x = np_rng.standard_normal((2, 2 * groups, *spatial)).astype("float32")
    else:
        x = np_rng.standard_normal((2, *spatial, 2 * groups)).astype("float32")
    kernel = np_rng.standard_normal((*(config["kernel"],) * rank, 2, 2 * groups)).astype("float32")
    arguments = {
        "strides": config["strides"],
        "padding": config["padding"],
        "dilation_rate": config["dilation"],
        "data_format": config["data_format"],
    }
    y = sops.conv(x, kernel, groups=groups, **arguments)
    pairs = reference.padding_pairs(config["padding"], spatial, kernel.shape[:rank],
                                    config["strides"], config["dilation"])

    def numpy_reference():
        return reference.conv_reference(x, kernel, config["strides"], pairs, config["dilation"],
                                        groups, data_format=config["data_format"])

    if backend == "tensorflow" and config["strides"] > 1 and config["dilation"] > 1:
        # TensorFlow's Keras rejects strides > 1 with dilation > 1: compare with the reference instead.
        expected = numpy_reference()
    else:
        expected = stock_or_reference(lambda: keras.ops.conv(x, kernel, **arguments), numpy_reference)
    assert_close(y, expected, "float32")


def test_default_data_format_follows_keras_config():
    np_rng = np.random.default_rng(3)
    x = np_rng.standard_normal((1, 2, 5, 6))
    kernel = np_rng.standard_normal((3, 2, 2, 3))
    previous = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_first")
    try:
        y = sops.conv(tensor(x, "float64"), tensor(kernel, "float64"), padding="same")
    finally:
        keras.config.set_image_data_format(previous)
    pairs = reference.padding_pairs("same", (5, 6), (3, 2), 1, 1)
    expected = reference.conv_reference(x, kernel, 1, pairs, 1, data_format="channels_first")
    assert_close(y, expected, "float64")


def test_mixed_dtypes_promote_to_float64():
    np_rng = np.random.default_rng(5)
    x = np_rng.standard_normal((1, 6, 2))
    kernel = np_rng.standard_normal((3, 2, 2))
    y = sops.conv(tensor(x, "float32"), tensor(kernel, "float64"))
    assert dtype_name(y) == "float64"
    expected = reference.conv_reference(x.astype("float32"), kernel, 1, [(0, 0)], 1)
    assert_close(y, expected, "float64", rtol=1e-6)


SAME_OVERSHOOT_CASES = {
    # rank: (spatial, kernel_size, strides); the padded axis is among the last three (the native part).
    2: ((1, 6), (3, 1), (1, 3)),
    3: ((1, 6, 5), (3, 1, 1), (1, 3, 3)),
    4: ((2, 1, 6, 8), (2, 3, 1, 2), (1, 1, 3, 4)),
    5: ((2, 2, 1, 6, 5), (1, 2, 3, 1, 1), (1, 2, 1, 3, 3)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rank", sorted(SAME_OVERSHOOT_CASES))
def test_same_padding_with_stride_larger_than_needed(rank, dtype):
    """"same" where one axis needs no padding because the stride overshoots the input
    (`(ceil(n / s) - 1) * s + extent - n <= -2`) while another axis is padded.

    TensorFlow's float64 CPU Conv3D computes "SAME" with a negative pad there (shifting the input),
    so the library must not hand TensorFlow the "SAME" string in that case.
    """
    spatial, kernel_size, strides = SAME_OVERSHOOT_CASES[rank]
    np_rng = np.random.default_rng(rank)
    x = np_rng.standard_normal((2, *spatial, 2))
    kernel = np_rng.standard_normal((*kernel_size, 2, 3))
    y = compiled(lambda x, k: sops.conv(x, k, strides=strides, padding="same"))(
        tensor(x, dtype), tensor(kernel, dtype)
    )
    pairs = reference.padding_pairs("same", spatial, kernel_size, strides, 1)
    assert any(max(pair) > 0 for pair in pairs)
    assert_close(y, reference.conv_reference(x, kernel, strides, pairs, 1), dtype)


ONE_WINDOW_CASES = {  # spatial, kernel_size, strides, filters: one output position along a strided last axis
    2: ((5, 4), (2, 3), (1, 2), 2),
    3: ((5, 3, 4), (3, 2, 3), (1, 1, 3), 3),
}


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("rank", sorted(ONE_WINDOW_CASES))
def test_one_input_channel_with_one_window_along_a_strided_axis(rank, data_format):
    """float32, one input channel, one output position along a strided last axis after an unstrided one:
    oneDNN (torch, TensorFlow) computed such convolutions wrong (`_backend.in_one_window_form`; gradients
    in tests/ops/test_gradients.py)."""
    spatial, kernel_size, strides, filters = ONE_WINDOW_CASES[rank]
    np_rng = np.random.default_rng(rank)
    x = np_rng.standard_normal((3, *spatial, 1))
    kernel = np_rng.standard_normal((*kernel_size, 1, filters))
    expected = reference.conv_reference(x, kernel, strides, [(0, 0)] * rank, 1)
    operand = x if data_format == "channels_last" else np.moveaxis(x, -1, 1)
    result = compiled(lambda a, b: sops.conv(a, b, strides=strides, data_format=data_format,
                                             algorithm="direct"))(tensor(operand), tensor(kernel))
    assert_close(result, expected if data_format == "channels_last" else np.moveaxis(expected, -1, 1))
