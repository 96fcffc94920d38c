"""The cost model of `algorithm="auto"`: physical constants, the rules that hold whatever they are (few taps
and tiny problems run direct, FFT never below its overhead), the memory budget, and a choice that is
computed once per static shape."""

import dataclasses
import math

import pytest

from structconv import config
from structconv.ops import algorithm as algo
from structconv.ops.algorithm import explain_choice

BACKENDS = tuple(algo.COSTS)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_constants_are_physical(backend_name):
    c = algo.costs(backend_name)
    rates = [*c.direct_gflops, *c.fft_gflops, c.dft_gflops, c.product_gflops]
    assert all(math.isfinite(r) and 0 < r <= 2 * 166 for r in rates)  # the 2-core machine's float32 peak
    assert all(math.isfinite(b) and 0 < b <= 50 for b in (c.direct_gbps, c.fft_gbps))
    assert c.direct_overhead_us > 0
    # An FFT call runs pad, rfftn, product, irfftn and slice: never cheaper to call than one convolution.
    assert c.fft_overhead_us >= c.direct_overhead_us
    # The decision margins correct the model's error near a crossover (15-25%), within the fitted range.
    assert all(0.5 <= m <= 2.0 for m in c.fft_margin)


@pytest.mark.parametrize("margin", [0.5, 2.0])
def test_fft_margin_decides_near_a_crossover(margin, monkeypatch):
    # A point where the torch model's two costs are within 2x of each other: the margin alone decides.
    shapes, kwargs = ((2, 256, 256, 8), (15, 15, 8, 8)), {"padding": "same", "backend_name": "torch"}
    info = explain_choice(*shapes, **kwargs)
    assert 0.5 < info["fft_us"] / info["direct_us"] < 2.0, info
    monkeypatch.setitem(algo.COSTS, "torch", dataclasses.replace(algo.COSTS["torch"], fft_margin=(margin,)))
    algo._choose.cache_clear()
    try:
        picked = explain_choice(*shapes, **kwargs)["algorithm"]
    finally:
        algo._choose.cache_clear()
    assert picked == ("fft" if info["fft_us"] * margin < info["direct_us"] else "direct")
    assert picked == ("fft" if margin == 0.5 else "direct")


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_fft_is_never_modelled_below_its_overhead(backend_name):
    cost = algo.fft_cost_us(1, 1, 1, 1, (4,), backend_name, (1,))
    assert cost >= algo.costs(backend_name).fft_overhead_us


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize(
    "input_shape, kernel_shape, padding",
    [
        ((1, 3, 1), (1, 1, 1), 2),  # the reflect-padding boundary test's shape
        ((1, 8, 8, 1), (5, 5, 1, 1), "same"),  # 25 taps on a tiny image
        ((2, 16384, 8), (15, 8, 8), "same"),  # fewer than FFT_MIN_TAPS taps on a long signal
        ((2, 256, 256, 8), (3, 5, 8, 8), "same"),
        ((2, 20, 20, 20, 20, 8), (2, 2, 2, 1, 8, 8), "same"),
    ],
)
def test_tiny_problems_and_few_taps_run_direct(backend_name, input_shape, kernel_shape, padding):
    info = explain_choice(input_shape, kernel_shape, padding=padding, backend_name=backend_name)
    assert info["algorithm"] == "direct"


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_large_kernels_pick_fft(backend_name):
    for input_shape, kernel_shape in [((2, 16384, 8), (511, 8, 8)), ((2, 256, 256, 8), (31, 31, 8, 8)),
                                      ((2, 48, 48, 48, 8), (15, 15, 15, 8, 8))]:
        info = explain_choice(input_shape, kernel_shape, padding="same", backend_name=backend_name)
        assert info["algorithm"] == "fft", (input_shape, kernel_shape, info)
        assert info["fft_us"] < info["direct_us"]


def test_auto_never_picks_fft_over_the_budget():
    shapes = ((2, 256, 256, 8), (31, 31, 8, 8))
    info = explain_choice(*shapes, padding="same", backend_name="torch")
    assert info["algorithm"] == "fft"
    saved = config.fft_memory_budget()
    config.set_fft_memory_budget(info["fft_memory_bytes"] // 100)
    try:
        over = explain_choice(*shapes, padding="same", backend_name="torch")
        assert over["fft_memory_bytes"] > over["budget_bytes"]
        assert over["algorithm"] == "direct"
    finally:
        config.set_fft_memory_budget(saved)


def test_the_choice_is_computed_once_per_static_shape():
    arguments = dict(batch=2, padded_sizes=(286,), kernel_extents=(31,), kernel_size=(31,), outputs=(256,),
                     channels=8, filters=8, groups=1, itemsize=4, backend_name="jax", spatial=(256,),
                     padding=((15, 15),), padding_mode="zeros")
    algo.choose_algorithm("auto", **arguments)
    hits = algo._choose.cache_info().hits
    for _ in range(3):
        algo.choose_algorithm("auto", **arguments)
    assert algo._choose.cache_info().hits == hits + 3


# --- the FFT plan: whole input or overlap-save blocks ----------------------------------------------------


def _plan(backend_name, sizes, extent, budget=2**40, geometry=None, channels=1, batch=1):
    rank = len(sizes)
    return algo.fft_plan(tuple(sizes), (extent,) * rank, (extent,) * rank, ((0, 0),) * rank, "zeros", batch,
                         channels, channels, 1, 4, backend_name, budget, geometry)


def test_long_transforms_out_of_cache_cost_more_per_flop():
    # A 2^20-point axis does not fit a core's cache; the axes of a 2048^2 image do.
    assert 2 * 4 * 2**20 > algo.FFT_CACHE_BYTES >= 2 * 4 * 2048
    n = 2**20
    assert algo.fft_flops((n,)) == pytest.approx(algo.OUT_OF_CACHE_FACTOR * 2.5 * n * math.log2(n))
    assert algo.fft_flops((2048, 2048)) == pytest.approx(2.5 * 2048**2 * math.log2(2048**2))
    assert algo.fft_flops((1,)) == pytest.approx(2.5)  # never below one pass


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_block_copies_are_counted_per_framed_axis(backend_name):
    terms = [algo.fft_terms(100, 1, 1, 1, (270, 270), (65, 65), 4, False, framed, backend_name)["memory"]
             for framed in (0, 1, 2)]
    assert terms[0] < terms[1] < terms[2]
    assert terms[2] - terms[1] == pytest.approx(terms[1] - terms[0])
    assert algo.fft_terms(100, 1, 1, 1, (270, 270), (65, 65), 4, False, True, backend_name) == algo.fft_terms(
        100, 1, 1, 1, (270, 270), (65, 65), 4, False, 2, backend_name)


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("sizes, extent, channels, batch", [
    ((2048, 2048), 65, 1, 1), ((2**20,), 4097, 1, 1), ((16384,), 127, 8, 2), ((256, 256), 15, 8, 2),
    ((48, 48, 48), 9, 8, 2),
])
def test_blocks_only_when_clearly_cheaper_than_the_whole_input(backend_name, sizes, extent, channels, batch):
    plan = _plan(backend_name, sizes, extent, channels=channels, batch=batch)
    whole = _plan(backend_name, sizes, extent, geometry="whole", channels=channels, batch=batch)
    assert not whole.blocked
    if plan.blocked:
        assert plan.cost_us * algo.BLOCK_MARGIN <= whole.cost_us
    else:
        assert plan == whole


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_scipy_comparison_plans(backend_name):
    # benchmarks/fft.py (b), measured on one thread: the whole 2048^2 transform beats blocks of 270^2 about
    # 2x on every backend; blocks beat one 2^20-point transform (out of cache) 3-5x.
    assert _plan(backend_name, (2048, 2048), 65).geometry == "whole"
    long = _plan(backend_name, (2**20,), 4097)
    assert long.blocked and long.counts[0] > 1


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_fft_over_the_budget_still_tiles(backend_name):
    # 32 -> 32 channels: the 1024 kernel spectra at the whole input's lengths dominate; blocks need less.
    whole = _plan(backend_name, (128, 128), 15, geometry="whole", channels=32)
    smaller = [p for p in (_plan(backend_name, (128, 128), 15, geometry=f, channels=32)
                           for f in algo.BLOCK_FACTORS) if p.blocked and p.memory < whole.memory]
    assert smaller
    budget = max(p.memory for p in smaller)
    plan = _plan(backend_name, (128, 128), 15, budget=budget, channels=32)
    assert plan.blocked and plan.memory <= budget


def test_direct_flops_count_a_minimum_of_channels_at_the_native_ranks(monkeypatch):
    """`Costs.direct_min_channels`: at ranks 1-3 a convolution of fewer channels costs as much as one of
    that many (XLA's CPU convolution), above rank 3 the decomposition's real channels count."""
    floored = dataclasses.replace(algo.costs("jax"), direct_min_channels=8)
    monkeypatch.setitem(algo.COSTS, "jax", floored)
    assert algo.direct_min_channels("jax", 2) == 8 and algo.direct_min_channels("jax", 4) == 1

    def flops(rank, channels):
        outputs, kernel = (16,) * rank, (3,) * rank
        return algo.direct_terms(2, outputs, kernel, channels, channels, 1, outputs, 4,
                                 algo.direct_min_channels("jax", rank))["flops"]

    assert flops(2, 1) == flops(2, 8) and flops(2, 16) == 4 * flops(2, 8)
    assert flops(4, 1) == flops(4, 8) / 64
    # The model prices it: a 1-channel 2-D convolution costs more than without the floor.
    unfloored = algo.direct_cost_us(2, (64, 64), (5, 5), 1, 1, 1, "torch")  # torch: no floor
    assert algo.costs("torch").direct_min_channels == 1
    assert algo.direct_cost_us(2, (64, 64), (5, 5), 1, 1, 1, "jax") > algo.direct_cost_us(
        2, (64, 64), (5, 5), 8, 8, 1, "jax") / 2
    assert unfloored < algo.direct_cost_us(2, (64, 64), (5, 5), 8, 8, 1, "torch") / 2
    terms = algo.direct_terms(1, (10,), (3,), 4, 6, 2, (12,), 4, min_channels=8)
    assert terms["flops"] == 2 * 10 * 3 * 8 * 8 * 2  # per group: max(2, 8) x max(3, 8), two groups
