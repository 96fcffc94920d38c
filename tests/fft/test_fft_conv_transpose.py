"""`conv_transpose` by `algorithm="fft"` against `algorithm="direct"` (and the NumPy reference for a
kernel longer than the input), ranks 1-4, every padding form, output padding, strides, dilation, both data
formats, float32 and float64, each kernel-spectrum method and product layout."""

import random

import numpy as np
import pytest
import reference
from conftest import assert_close, compiled, conv_with_plan, dtype_name, tensor, traced
from ops.padding_cases import PADDING_KINDS, operand_shape, random_padding

from structconv import ops as sops
from structconv.errors import StructconvError

MAX_SIZE = {1: 11, 2: 8, 3: 6, 4: 5}


def _id(config):
    return (f"r{len(config['spatial'])}-{config['padding']}-op{config['output_padding']}-s{config['strides']}"
            f"-d{config['dilation']}-{config['data_format'][9:]}-{config['dtype']}")


def transpose_config(seed, rank, kind):
    rng = random.Random(seed)
    while True:
        strides = tuple(rng.randint(1, 3) for _ in range(rank))
        config = {
            "spatial": tuple(rng.randint(2, MAX_SIZE[rank] - 2) for _ in range(rank)),
            "kernel_size": tuple(rng.randint(1, 3) for _ in range(rank)),
            "strides": strides,
            "dilation": tuple(rng.randint(1, 2) for _ in range(rank)),
            "padding": random_padding(kind, rank, rng, int_max=3, pair_max=(4, 3)),
            "output_padding": None,
            "channels": rng.randint(1, 3),
            "filters": rng.randint(1, 3),
            "data_format": rng.choice(("channels_last", "channels_first")),
            "dtype": rng.choice(("float32", "float64")),
            "batch": rng.randint(1, 2),
            "seed": seed,
            "kind": kind,
        }
        if rng.random() < 0.6:
            config["output_padding"] = tuple(rng.randint(0, s - 1) for s in strides)
        try:
            y, kernel = transpose_operands(config)
            traced(transpose_function(config, "direct"), tensor(y, "float64"), tensor(kernel, "float64"))
        except StructconvError:
            continue
        return config


def transpose_operands(config):
    rng = np.random.default_rng(config["seed"])
    y = rng.standard_normal(operand_shape(config, config["spatial"], config["channels"]))
    kernel = rng.standard_normal((*config["kernel_size"], config["filters"], config["channels"]))
    return y, kernel


def transpose_function(config, algorithm, **plan):
    """`conv_transpose` of `config` by `algorithm`, through the op; with `plan` given, by FFT with the
    plan's decisions (`conftest.forced_plan`) forced as it says."""

    def function(y, kernel):
        arguments = dict(strides=config["strides"], padding=config["padding"],
                         output_padding=config["output_padding"], dilation_rate=config["dilation"],
                         data_format=config["data_format"])
        if plan:
            return conv_with_plan(y, kernel, transposed=True, algorithm=algorithm, **plan, **arguments)
        return sops.conv_transpose(y, kernel, algorithm=algorithm, **arguments)

    return function


def run_transpose(config, y, kernel, algorithm, dtype, **plan):
    """`transpose_function` run (compiled on JAX) on `y` and `kernel` as `dtype`."""
    return compiled(transpose_function(config, algorithm, **plan))(tensor(y, dtype), tensor(kernel, dtype))


TRANSPOSE_CONFIGS = [
    transpose_config(50_000 + 1000 * rank + i, rank, kind)
    for rank in (1, 2, 3, 4)
    for i, kind in enumerate(PADDING_KINDS)
    if rank <= 2 or i % (rank - 1) == 0
]


def test_transpose_configs_cover_every_form():
    configs = TRANSPOSE_CONFIGS
    assert {len(c["spatial"]) for c in configs} == {1, 2, 3, 4}
    assert {c["kind"] for c in configs} == set(PADDING_KINDS)
    assert {c["data_format"] for c in configs} == {"channels_last", "channels_first"}
    assert any(c["output_padding"] is not None and max(c["output_padding"]) > 0 for c in configs)
    assert any(max(c["strides"]) > 1 and max(c["dilation"]) > 1 for c in configs)


@pytest.mark.parametrize("config", TRANSPOSE_CONFIGS, ids=_id)
def test_fft_conv_transpose_matches_direct(config):
    transform = ("dft", "fft")[config["seed"] % 2]
    product = ("loop", "matmul", "planes", "packed")[(config["seed"] // 3) % 4]
    y, kernel = transpose_operands(config)
    dtype = config["dtype"]
    fft = run_transpose(config, y, kernel, "fft", dtype, kernel_transform=transform, product=product)
    direct = run_transpose(config, y, kernel, "direct", "float64")
    assert dtype_name(fft) == dtype
    assert_close(fft, direct, dtype)


def test_fft_conv_transpose_large_kernel_matches_reference(kernel_transform):
    """A kernel larger than the input, its spectrum computed both ways."""
    config = {"spatial": (40,), "kernel_size": (151,), "strides": (2,), "dilation": (1,), "padding": "same",
              "output_padding": None, "channels": 2, "filters": 3, "data_format": "channels_first",
              "batch": 1, "seed": 3}
    y, kernel = transpose_operands(config)
    fft = run_transpose(config, y, kernel, "fft", "float64", kernel_transform=kernel_transform)
    expected = reference.conv_transpose_reference(y, kernel, 2, "same", None, 1, "channels_first")
    assert_close(fft, expected, "float64")
