"""`algorithm="fft"` against the NumPy reference (`conv`) and against `algorithm="direct"`
(`conv_transpose`), ranks 1-4, every padding form and mode, strides, dilation, groups, both data formats,
float32 and float64; and `"auto"` against `"direct"`."""

import dataclasses
import itertools
import random

import keras
import numpy as np
import pytest
import reference
from conftest import (
    assert_close,
    compiled,
    conv_problem_of,
    conv_with_plan,
    dtype_name,
    forced_plan,
    tensor,
)
from ops.padding_cases import PADDING_KINDS, PADDING_MODES, operand_shape, padding_fits, random_padding

from structconv import ops as sops
from structconv.ops import candidate_plans
from structconv.ops.problem import ConvProblem

MAX_SIZE = {1: 11, 2: 8, 3: 6, 4: 5}


def conv_config(seed, rank, kind, mode):
    """A seeded valid configuration of one padding kind and mode; the rest random (small shapes)."""
    rng = random.Random(seed)
    while True:
        spatial = tuple(rng.randint(3, MAX_SIZE[rank]) for _ in range(rank))
        kernel_size = tuple(rng.randint(1, 4 if rank <= 2 else 3) for _ in range(rank))
        strides = tuple(rng.randint(1, 3) for _ in range(rank))
        dilation = tuple(rng.randint(1, 2) for _ in range(rank))
        padding = random_padding(kind, rank, rng, int_max=3, pair_max=(4, 3))
        if padding_fits(spatial, kernel_size, strides, dilation, padding, mode):
            break
    groups = rng.choice((1, 1, 2))
    return {
        "spatial": spatial,
        "kernel_size": kernel_size,
        "strides": strides,
        "dilation": dilation,
        "padding": padding,
        "mode": mode,
        "groups": groups,
        "channels": groups * rng.randint(1, 2),
        "filters": groups * rng.randint(1, 3),
        "data_format": rng.choice(("channels_last", "channels_first")),
        "dtype": rng.choice(("float32", "float64")),
        "batch": rng.randint(1, 2),
        "seed": seed,
        "kind": kind,
    }


# Every (padding kind, mode) pair at ranks 1 and 2; every kind at ranks 3 and 4, the modes in turn.
CONV_CONFIGS = [
    conv_config(1000 * rank + 10 * i + j, rank, kind, mode)
    for rank in (1, 2, 3, 4)
    for i, kind in enumerate(PADDING_KINDS)
    for j, mode in enumerate(PADDING_MODES)
    if rank <= 2 or (i + rank) % 4 == j
]


def _id(config):
    return (f"r{len(config['spatial'])}-{config['padding']}-{config['mode']}-g{config['groups']}"
            f"-s{config['strides']}-d{config['dilation']}-{config['data_format'][9:]}-{config['dtype']}")


def conv_operands(config):
    rng = np.random.default_rng(config["seed"])
    x = rng.standard_normal(operand_shape(config, config["spatial"], config["channels"]))
    kernel = rng.standard_normal(
        (*config["kernel_size"], config["channels"] // config["groups"], config["filters"])
    )
    return x, kernel


def conv_expected(config, x, kernel):
    rank = len(config["spatial"])
    pairs = reference.padding_pairs(config["padding"], config["spatial"], config["kernel_size"],
                                    config["strides"], config["dilation"])
    assert rank == len(pairs)
    return reference.conv_reference(x, kernel, config["strides"], pairs, config["dilation"], config["groups"],
                                    config["mode"], config["data_format"])


def run_conv(config, x, kernel, dtype, **plan):
    """`conv` by FFT, the plan's decisions (`conftest.forced_plan`) forced as `plan` says."""

    def function(x, kernel):
        return conv_with_plan(x, kernel, strides=config["strides"], padding=config["padding"],
                              dilation_rate=config["dilation"], groups=config["groups"],
                              data_format=config["data_format"], padding_mode=config["mode"], **plan)

    return compiled(function)(tensor(x, dtype), tensor(kernel, dtype))


def _problem(batch, channels, filters, groups, rank, size=16, kernel=3):
    """The problem of a float32 "same" convolution on `size`^rank inputs (taps few next to the FFT lengths:
    the kernel's spectrum by DFT)."""
    before, after = (kernel - 1) // 2, kernel // 2
    return ConvProblem(backend=keras.backend.backend(), device="cpu", rank=rank, batch=batch,
                       spatial=(size,) * rank, channels=channels, filters=filters,
                       kernel_size=(kernel,) * rank, groups=groups, strides=(1,) * rank,
                       dilation_rate=(1,) * rank, padding=((before, after),) * rank, padding_mode="zeros",
                       dtype="float32", data_format="channels_first")


def _whole_fft(problem, transform="dft", **strategy):
    """The whole-input FFT candidate of `problem` whose kernel spectrum is by `transform`, under the active
    backend's profile with `strategy` changed (a profile is passed to the planner, no global changes)."""
    profile = candidate_plans.profile_for(keras.backend.backend())
    profile = dataclasses.replace(profile, strategy=dataclasses.replace(profile.strategy, **strategy))
    plans = [p for p in candidate_plans.candidates(problem, profile) if p.algorithm == "fft"]
    return next(p.fft for p in plans if p.fft.geometry == "whole" and p.fft.kernel_transform == transform)


def test_product_layout_follows_the_channel_count():
    # Up to `product_loop_max_channels` input channels per group a broadcast product, above a matrix product.
    for groups in (1, 2):
        def product(per_group, groups=groups):
            fft = _whole_fft(_problem(1, per_group * groups, 2 * groups, groups, 2),
                             product_loop_max_channels=4, product_loop_max_channels_inference=None,
                             packed_pairs_min_rank=None)
            return fft.product

        assert product(4) in ("loop", "planes")
        assert product(5) == "matmul"


@pytest.mark.parametrize("training", [False, True])
def test_the_product_layout_can_follow_the_channel_count_further_without_a_gradient(training):
    # `product_loop_max_channels_inference`: the broadcast sum's forward pass is cheap where its gradient is
    # not (eager torch, in place: 8 -> 16 channels 1.6 ms against 2.3 forward, 20.6 against 11.1 trained).
    problem = dataclasses.replace(_problem(1, 8, 8, 1, 2), training=training)
    limits = {"product_loop_max_channels": 4, "packed_pairs_min_rank": None}
    assert _whole_fft(problem, "fft", product_loop_max_channels_inference=None, **limits).product == "matmul"
    loosened = _whole_fft(problem, "fft", product_loop_max_channels_inference=12, **limits).product
    assert loosened == ("matmul" if training else "loop")


def test_conv_configs_cover_every_form():
    configs = CONV_CONFIGS
    assert {(len(c["spatial"]), c["kind"], c["mode"]) for c in configs} >= set(
        itertools.product((1, 2), PADDING_KINDS, PADDING_MODES)
    )
    ranks_kinds = set(itertools.product((1, 2, 3, 4), PADDING_KINDS))
    assert {(len(c["spatial"]), c["kind"]) for c in configs} == ranks_kinds
    assert {c["mode"] for c in configs if len(c["spatial"]) >= 3} == set(PADDING_MODES)
    assert {c["data_format"] for c in configs} == {"channels_last", "channels_first"}
    assert {c["dtype"] for c in configs} == {"float32", "float64"}
    assert any(c["groups"] > 1 for c in configs)
    # One input channel per group: the spectral product without a contraction (`_spectra_product`).
    assert any(c["channels"] == c["groups"] for c in configs)
    assert any(max(c["strides"]) > 1 and max(c["dilation"]) > 1 for c in configs)
    assert any(isinstance(c["padding"], tuple) and len({type(e) for e in c["padding"]}) > 1 for c in configs)


def _variant(config):
    """How a configuration runs (forced in its plan, `conftest.forced_plan`): the kernel's spectrum by DFT or
    FFT, the spectral product and the geometry (whole input, or overlap-save blocks where the input is long
    enough), spread over the configurations by their seed."""
    seed = config["seed"]
    transform = ("dft", "fft")[(seed // 10 + seed) % 2]
    product = ("loop", "matmul", "planes", "packed")[(seed // 10 + seed // 1000 + 2 * (seed % 10)) % 4]
    return transform, product, ("whole", 2)[(seed // 20) % 2]


def test_conv_variants_cover_every_product():
    variants = [_variant(c) for c in CONV_CONFIGS]
    assert {(t, p) for t, p, _ in variants} >= set(itertools.product(("dft",), ("loop", "matmul", "planes",
                                                                                  "packed")))
    # Packing pairs needs an even batch (or blocks): some packed configurations have one.
    assert any(v[:2] == ("dft", "packed") and (c["batch"] == 2 or v[2] == 2) for c, v in zip(CONV_CONFIGS,
                                                                                           variants))


@pytest.mark.parametrize("config", CONV_CONFIGS, ids=_id)
def test_fft_conv_matches_reference(config):
    transform, product, geometry = _variant(config)
    x, kernel = conv_operands(config)
    y = run_conv(config, x, kernel, config["dtype"], kernel_transform=transform, product=product,
                 geometry=geometry)
    assert dtype_name(y) == config["dtype"]
    assert_close(y, conv_expected(config, x, kernel), config["dtype"])


# Paddings larger than the kernel's extent (the output index wraps around the FFT length), kernels larger
# than the input, and both ways of computing the kernel's spectrum (DFT matrices and FFT).
EDGE_CASES = [
    # spatial, kernel_size, strides, dilation, padding
    ((9,), (1,), 1, 1, 4),
    ((7,), (2,), 2, 1, ((5, 1),)),
    ((6, 5), (1, 2), (1, 3), 1, ((4, 0), (0, 6))),
    ((4,), (9,), 1, 1, "same"),
    ((3, 5), (7, 3), 1, (1, 2), "full"),
    ((40,), (31,), 2, 1, "same"),
    ((12, 11), (9, 10), (2, 1), 1, "same"),
    ((200,), (151,), 3, 1, ((80, 3),)),
]


@pytest.mark.parametrize("case", EDGE_CASES, ids=lambda c: f"n{c[0]}-k{c[1]}-p{c[4]}")
def test_fft_conv_edge_cases(case, kernel_transform, geometry):
    spatial, kernel_size, strides, dilation, padding = case
    dtype = ("float32", "float64")[EDGE_CASES.index(case) % 2]
    rank = len(spatial)
    config = {"spatial": spatial, "kernel_size": kernel_size, "strides": reference.expand(strides, rank),
              "dilation": reference.expand(dilation, rank), "padding": padding, "mode": "zeros", "groups": 1,
              "channels": 2, "filters": 3, "data_format": "channels_last", "batch": 2, "seed": 7}
    x, kernel = conv_operands(config)
    y = run_conv(config, x, kernel, dtype, kernel_transform=kernel_transform, geometry=geometry)
    assert dtype_name(y) == dtype
    assert_close(y, conv_expected(config, x, kernel), dtype)


# Overlap-save: inputs long enough to be cut into blocks on some axes, with every padding mode, strides,
# dilation and groups.
BLOCK_CASES = [
    # spatial, kernel_size, strides, dilation, padding, mode, groups
    ((60,), (5,), 1, 1, "same", "zeros", 1),
    ((57,), (4,), 3, 2, ((3, 9),), "reflect", 2),
    ((33, 9), (3, 2), (2, 1), 1, ("same", 1), "circular", 1),
    ((25, 26), (2, 3), 1, (2, 1), "full", "replicate", 2),
    ((20, 7, 18), (2, 3, 2), (1, 1, 2), 1, "same", "zeros", 1),
    ((17, 6, 5, 16), (2, 2, 1, 3), 1, (1, 1, 1, 2), ("causal", "valid", 1, "same"), "reflect", 1),
]


@pytest.mark.parametrize("case", BLOCK_CASES, ids=lambda c: f"n{c[0]}-k{c[1]}-{c[5]}")
def test_fft_conv_overlap_save(case, kernel_transform):
    spatial, kernel_size, strides, dilation, padding, mode, groups = case
    factor = (2, 4)[BLOCK_CASES.index(case) % 2]
    rank = len(spatial)
    config = {"spatial": spatial, "kernel_size": kernel_size, "strides": reference.expand(strides, rank),
              "dilation": reference.expand(dilation, rank), "padding": padding, "mode": mode,
              "groups": groups, "channels": 2 * groups, "filters": 3 * groups,
              "data_format": "channels_first", "batch": 2, "seed": 9}
    x, kernel = conv_operands(config)
    problem, _ = conv_problem_of(tensor(x, "float64"), tensor(kernel, "float64"), strides=config["strides"],
                                 padding=padding, dilation_rate=config["dilation"], groups=groups,
                                 data_format="channels_first", padding_mode=mode)
    plan = forced_plan(problem, geometry=factor)
    assert plan.fft.geometry == factor and plan.fft.blocked and max(plan.fft.counts) > 1
    y = run_conv(config, x, kernel, "float64", kernel_transform=kernel_transform, geometry=factor)
    assert_close(y, conv_expected(config, x, kernel), "float64")


# --- auto equals direct ------------------------------------------------------------------------------------

AUTO_CASES = [
    # spatial, channels, kernel_size, filters, padding: small kernels (direct) and large ones (fft)
    ((64,), 3, (5,), 4, "same"),
    ((2048,), 2, (801,), 2, "same"),
    ((24, 20), 2, (3, 3), 2, "valid"),
    ((96, 96), 2, (41, 41), 2, "same"),
    ((8, 8, 8), 2, (3, 3, 3), 2, "same"),
    ((6, 6, 6, 6), 2, (2, 2, 2, 2), 2, "valid"),
]


@pytest.mark.parametrize("case", AUTO_CASES, ids=lambda c: f"n{c[0]}-k{c[2]}")
def test_auto_equals_direct(case):
    spatial, channels, kernel_size, filters, padding = case
    rng = np.random.default_rng(11)
    x = tensor(rng.standard_normal((2, *spatial, channels)), "float64")
    kernel = tensor(rng.standard_normal((*kernel_size, channels, filters)) / np.sqrt(np.prod(kernel_size)),
                    "float64")
    auto = sops.conv(x, kernel, padding=padding, algorithm="auto")
    direct = sops.conv(x, kernel, padding=padding, algorithm="direct")
    assert_close(auto, direct, "float64")


def test_auto_picks_fft_for_large_kernels_and_direct_for_small_ones():
    from structconv.ops.arguments import conv_arguments
    from structconv.ops.conv import prepare_conv

    def choice(spatial, kernel_size, channels=8, filters=8):
        x = tensor(np.zeros((2, *spatial, channels)), "float32")
        kernel = tensor(np.zeros((*kernel_size, channels, filters)), "float32")
        args = conv_arguments(len(spatial), padding="same", algorithm="auto")
        return prepare_conv(x, kernel, args)[1].algorithm

    assert choice((16384,), (1023,)) == "fft"
    assert choice((256, 256), (63, 63)) == "fft"
    assert choice((16384,), (3,)) == "direct"
    assert choice((256, 256), (3, 3)) == "direct"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_auto_transpose_equals_direct(dtype):
    rng = np.random.default_rng(5)
    y = tensor(rng.standard_normal((2, 300, 2)), dtype)
    kernel = tensor(rng.standard_normal((121, 3, 2)) / 11, dtype)
    auto = sops.conv_transpose(y, kernel, strides=2, padding="same", algorithm="auto")
    direct = sops.conv_transpose(y, kernel, strides=2, padding="same", algorithm="direct")
    assert dtype_name(auto) == dtype
    assert_close(auto, direct, dtype)


@pytest.mark.parametrize("rank", [1, 2, 3, 4, 5, 6, 7])
def test_backend_fftn_is_numpy_fftn_in_its_axis_order(rank):
    """`fftn` (the packed-pairs path) is NumPy's N-D FFT of the zero-padded signal, its frequency axes in
    the backend's `fft_axis_order`; `ifftn` undoes it."""
    from structconv._backend import get_backend

    backend = get_backend()
    rng = np.random.default_rng(rank)
    sizes = (2, 3, 2, 3, 2, 2, 3)[:rank]
    lengths = tuple(n + (axis % 2) for axis, n in enumerate(sizes))  # some axes zero-padded
    x = rng.standard_normal((2, 1, *sizes)) + 1j * rng.standard_normal((2, 1, *sizes))
    order = backend.fft_axis_order(rank)
    assert sorted(order) == list(range(rank))
    spectrum = backend.fftn(keras.ops.convert_to_tensor(x, "complex128"), lengths)
    padded = np.pad(x, [(0, 0), (0, 0), *[(0, length - n) for n, length in zip(sizes, lengths)]])
    expected = np.transpose(np.fft.fftn(padded, axes=range(2, rank + 2)), (0, 1, *[2 + a for a in order]))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(spectrum), expected, atol=1e-10)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(backend.ifftn(spectrum)), padded, atol=1e-12)


@pytest.mark.parametrize("rank", [5, 6])
def test_packed_pairs_above_rank_4(rank):
    """Ranks 5 and 6 (more than one group of FFT axes, groups of 2 and 3), packed in pairs against the
    NumPy reference, with an odd batch (not packed) alongside."""
    rng = np.random.default_rng(rank)
    spatial, dilation = (4, 3, 4, 3, 4, 3)[:rank], (2, *[1] * (rank - 1))
    kernel = rng.standard_normal((*[2] * rank, 2, 3))
    for batch in (2, 3):
        x = rng.standard_normal((batch, *spatial, 2))
        y = compiled(lambda a, b: conv_with_plan(a, b, padding="same", dilation_rate=dilation,
                                                 kernel_transform="dft", product="packed"))(
            tensor(x, "float64"), tensor(kernel, "float64"))
        pairs = reference.padding_pairs("same", spatial, (2,) * rank, (1,) * rank, dilation)
        expected = reference.conv_reference(x, kernel, (1,) * rank, pairs, dilation)
        assert_close(y, expected, "float64")


def test_packing_needs_an_even_static_batch_and_few_channel_pairs():
    def product(batch, channels, filters, groups, rank, min_rank=2):
        fft = _whole_fft(_problem(batch, channels, filters, groups, rank), packed_pairs_min_rank=min_rank,
                         product_loop_max_channels=8, packed_max_kernel_ratio=1.0)
        assert fft.kernel_transform == "dft"  # packing needs the kernel's spectrum by DFT
        return fft.product

    assert product(2, 4, 4, 1, 2) == "packed"  # 16 channel pairs <= 2 * (4 + 4)
    assert product(2, 8, 8, 2, 3) == "packed"  # grouped: 4 * 8 = 32 <= 2 * (8 + 8)
    assert product(2, 4, 4, 1, 1) != "packed"  # below the profile's rank
    assert product(2, 8, 8, 1, 2) != "packed"  # 64 > 32: the kernel's full spectrum costs more
    assert product(3, 2, 2, 1, 2) != "packed"  # odd batch
    assert product(None, 2, 2, 1, 2) != "packed"  # batch unknown when tracing
    assert product(32, 16, 16, 1, 2) == "matmul"  # the matrix product (16 > 8 channels per group)
    assert product(2, 4, 4, 1, 2, min_rank=None) != "packed"
