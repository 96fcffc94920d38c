"""The cost model of `algorithm="auto"`: physical constants, the rules that hold whatever they are (few taps
and tiny problems run direct, FFT never below its overhead), the memory budget, and a plan that is made
once per problem."""

import dataclasses
import math

import keras
import pytest

from structconv import config
from structconv.ops import candidate_plans, cost_model, planner
from structconv.ops.algorithm import explain_choice
from structconv.ops.fft_geometry import BLOCK_FACTORS
from structconv.ops.problem import ConvProblem
from structconv.tuning import profile as profiles
from structconv.tuning.square_problem import square_problem

BACKENDS = ("tensorflow", "jax", "torch")


def costs(backend_name):
    return candidate_plans.profile_for(backend_name).costs


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_constants_are_physical(backend_name):
    c = costs(backend_name)
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
    profile = candidate_plans.profile_for("torch")
    fft_us = info["fft_us"] / cost_model.per_rank(profile.costs.fft_margin, 2)  # without the shipped margin
    assert 0.5 < fft_us / info["direct_us"] < 2.0, info
    custom = dataclasses.replace(profile, costs=dataclasses.replace(profile.costs, fft_margin=(margin,)))
    monkeypatch.setattr(candidate_plans, "profile_for", lambda *args, **kwargs: custom)
    planner.clear_plans()
    picked = explain_choice(*shapes, **kwargs)["algorithm"]
    assert picked == ("fft" if fft_us * margin < info["direct_us"] else "direct")
    assert picked == ("fft" if margin == 0.5 else "direct")


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_buffers_past_the_fresh_size_cost_more_traffic(backend_name):
    """Each working buffer's bytes past `FRESH_BUFFER_BYTES` add `FRESH_FACTOR` times their excess to the
    memory term (malloc maps such a buffer anew at each call, and the call page-faults it in); below it,
    the memory term is the buffers' bytes."""
    # 2-D, FFT lengths 320 x 320, 16 -> 16 channels, batch 2: the kernel's spectrum holds 256 x 320 x 161
    # complex64 values (105 MB), each spectrum of the input and of the output and each real tensor 13 MB.
    half, points = 320 * 161, 320 * 320
    buffers = [8 * 256 * half, 8 * 32 * half, 8 * 32 * half, 4 * 32 * points, 4 * 32 * points]
    excess = 8 * 256 * half - 16 * 2**20
    big = cost_model.fft_terms(2, 16, 16, 1, (320, 320), (14, 14), 4, True, backend_name=backend_name)
    assert big["memory"] == pytest.approx(sum(buffers) + cost_model.FRESH_FACTOR * excess)
    # 64 x 64 lengths, 4 -> 4 channels, batch 2: every buffer well below it.
    small = cost_model.fft_terms(2, 4, 4, 1, (64, 64), (5, 5), 4, True, backend_name=backend_name)
    assert small["memory"] == pytest.approx(8 * (16 + 8 + 8) * 64 * 33 + 4 * 16 * 64 * 64)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the candidates are the active backend's")
def test_a_big_kernel_spectrum_keeps_the_model_alone_direct():
    """TensorFlow's 4-D 20^4 k=3 8 -> 8 forward at batch 2 ran 71 ms decomposed and 133 ms by FFT, whose
    kernel spectrum takes 52 MB (2-vCPU AMD EPYC without AVX-512, session 31): with fresh buffers priced,
    the model alone keeps it direct under the shipped Eigen profile, where it had picked FFT."""
    eigen = profiles.shipped("tensorflow", "cpu", "Eigen")
    problem = square_problem("tensorflow", "cpu", 4, 20, 3, 2, 8, 8)
    candidates = candidate_plans.candidates(problem, eigen)
    plans = planner.allowed(problem, candidates, "auto", eigen, math.inf, "off")
    assert plans[0].algorithm == "direct"
    fft = min((p for p in plans if p.algorithm == "fft"), key=lambda p: p.modelled_us)
    assert fft.fft.lengths == (21,) * 4  # the kernel spectrum: 8 x 8 x 21^3 x 11 complex64 values
    assert cost_model.fresh_bytes([8 * 64 * 21**3 * 11]) > 0


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_fft_is_never_modelled_below_its_overhead(backend_name):
    c = costs(backend_name)
    for by_dft in (False, True):
        terms = cost_model.fft_terms(1, 1, 1, 1, (4,), (1,), 4, by_dft, backend_name=backend_name)
        assert cost_model.fft_us(c, terms, 1) >= c.fft_overhead_us


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_a_kernel_spectrum_by_dft_pays_its_stage_time_per_axis(rank):
    # One matrix product per axis, each a few framework calls: `dft_stage_us` per axis, on top of the flops
    # (which the FFT kernel transform does not pay).
    c = dataclasses.replace(costs("torch"), dft_stage_us=0.0)
    lengths, kernel_size = (24,) * rank, (5,) * rank
    by_dft = cost_model.fft_terms(2, 4, 4, 1, lengths, kernel_size, 4, True)
    by_fft = cost_model.fft_terms(2, 4, 4, 1, lengths, kernel_size, 4, False)
    staged = dataclasses.replace(c, dft_stage_us=70.0)
    plain = cost_model.fft_us(c, by_dft, rank)
    assert cost_model.fft_us(staged, by_dft, rank) == pytest.approx(plain + 70.0 * rank)
    assert cost_model.fft_us(staged, by_fft, rank) == cost_model.fft_us(c, by_fft, rank)


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize(
    "input_shape, kernel_shape, padding",
    [
        ((1, 3, 1), (1, 1, 1), 2),  # the reflect-padding boundary test's shape
        ((1, 8, 8, 1), (5, 5, 1, 1), "same"),  # 25 taps on a tiny image
        ((2, 16384, 8), (15, 8, 8), "same"),
        ((2, 16384, 8), (9, 8, 8), "same"),  # fewer than `Strategy.fft_min_taps` taps on a long signal
        ((2, 256, 256, 8), (3, 3, 8, 8), "same"),  # likewise on an image
        ((2, 256, 256, 8), (3, 5, 8, 8), "same"),
        ((2, 20, 20, 20, 20, 8), (2, 2, 2, 1, 8, 8), "same"),
    ],
)
def test_tiny_problems_and_few_taps_run_direct(backend_name, input_shape, kernel_shape, padding):
    """By the model alone, as every test outside tests/tuning plans (`model_only_plans`; with measuring,
    few taps may run by FFT where it is timed faster: the planner's tests)."""
    assert config.autotune() == "off"
    info = explain_choice(input_shape, kernel_shape, padding=padding, backend_name=backend_name)
    assert info["algorithm"] == "direct"


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_large_kernels_pick_fft(backend_name):
    for input_shape, kernel_shape in [((2, 16384, 8), (511, 8, 8)), ((2, 256, 256, 8), (31, 31, 8, 8)),
                                      ((2, 48, 48, 48, 8), (15, 15, 15, 8, 8))]:
        info = explain_choice(input_shape, kernel_shape, padding="same", backend_name=backend_name)
        assert info["algorithm"] == "fft", (input_shape, kernel_shape, info)
        assert info["fft_us"] < info["direct_us"]
        assert info["plan"].startswith("fft:")
        assert info["modelled_us"][info["plan"]] == round(info["fft_us"], 1)


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


def _problem(backend_name, sizes, extent, channels=1, batch=1):
    """A "valid" float32 convolution of `channels` -> `channels` with a cubic kernel of `extent` taps."""
    rank = len(sizes)
    return ConvProblem(backend=backend_name, device="cpu", rank=rank, batch=batch, spatial=tuple(sizes),
                       channels=channels, filters=channels, kernel_size=(extent,) * rank, groups=1,
                       strides=(1,) * rank, dilation_rate=(1,) * rank, padding=((0, 0),) * rank,
                       padding_mode="zeros", dtype="float32", data_format="channels_last")


def test_the_plan_is_made_once_per_problem(monkeypatch):
    problem = _problem("jax", (256,), 31, channels=8, batch=2)
    calls = []
    candidates = candidate_plans.candidates
    monkeypatch.setattr(candidate_plans, "candidates", lambda *a, **k: calls.append(1) or candidates(*a, **k))
    plans = [planner.plan_conv(problem, "auto") for _ in range(4)]
    assert len(calls) == 1
    assert all(plan is plans[0] for plan in plans)
    assert planner.plan_conv(dataclasses.replace(problem), "auto") is plans[0]  # an equal problem: the same


# --- the FFT plan: whole input or overlap-save blocks ----------------------------------------------------


def _ffts(backend_name, sizes, extent, channels=1, batch=1):
    """The cheapest FFT candidate of `_problem` of each geometry (of its two kernel transforms)."""
    problem = _problem(backend_name, sizes, extent, channels, batch)
    found = {}
    for plan in candidate_plans.candidates(problem):  # cheapest first
        if plan.algorithm == "fft":
            found.setdefault(plan.fft.geometry, plan)
    return found


def _plan(backend_name, sizes, extent, budget=2**40, channels=1, batch=1):
    """The FFT plan `algorithm="fft"` runs within `budget` bytes."""
    saved = config.fft_memory_budget()
    config.set_fft_memory_budget(budget)
    try:
        return planner.plan_conv(_problem(backend_name, sizes, extent, channels, batch), "fft")
    finally:
        config.set_fft_memory_budget(saved)


def _unmargined_us(backend_name, plan, sizes, extent, channels, batch):
    """The cost model's forward time of an FFT candidate, without the planner's margins."""
    c, fft, rank = costs(backend_name), plan.fft, len(sizes)
    terms = cost_model.fft_terms(batch * math.prod(fft.counts), channels, channels, 1, fft.lengths,
                                 (extent,) * rank, 4, fft.kernel_transform == "dft",
                                 sum(n > 1 for n in fft.counts), fft.product == "packed", backend_name,
                                 c.fft_cache_bytes)
    return cost_model.fft_us(c, terms, rank)


def test_long_transforms_out_of_cache_cost_more_per_flop():
    # A 2^20-point axis does not fit a core's cache; the axes of a 2048^2 image do.
    assert 2 * 4 * 2**20 > cost_model.FFT_CACHE_BYTES >= 2 * 4 * 2048
    n = 2**20
    out_of_cache = cost_model.OUT_OF_CACHE_FACTOR
    assert cost_model.fft_flops((n,)) == pytest.approx(out_of_cache * 2.5 * n * math.log2(n))
    assert cost_model.fft_flops((2048, 2048)) == pytest.approx(2.5 * 2048**2 * math.log2(2048**2))
    assert cost_model.fft_flops((1,)) == pytest.approx(2.5)  # never below one pass


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_block_copies_are_counted_per_framed_axis(backend_name):
    terms = [cost_model.fft_terms(100, 1, 1, 1, (270, 270), (65, 65), 4, False, framed,
                                  backend_name=backend_name)["memory"] for framed in (0, 1, 2)]
    assert terms[0] < terms[1] < terms[2]
    assert terms[2] - terms[1] == pytest.approx(terms[1] - terms[0])


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("sizes, extent, channels, batch", [
    ((2048, 2048), 65, 1, 1), ((2**20,), 4097, 1, 1), ((16384,), 127, 8, 2), ((256, 256), 15, 8, 2),
    ((48, 48, 48), 9, 8, 2),
])
def test_blocks_only_when_clearly_cheaper_than_the_whole_input(backend_name, sizes, extent, channels, batch):
    plan = _plan(backend_name, sizes, extent, channels=channels, batch=batch)
    whole = _ffts(backend_name, sizes, extent, channels, batch)["whole"]
    assert not whole.fft.blocked
    margin = cost_model.per_rank(costs(backend_name).fft_margin, len(sizes))
    raw = _unmargined_us(backend_name, plan, sizes, extent, channels, batch)
    if plan.fft.blocked:
        # A block plan is priced `block_margin` times its model, and still the cheapest.
        block_margin = costs(backend_name).block_margin
        assert plan.modelled_us == pytest.approx(raw * block_margin * margin)
        whole_raw = _unmargined_us(backend_name, whole, sizes, extent, channels, batch)
        assert raw * block_margin <= whole_raw
    else:
        assert plan.fft == whole.fft
        assert plan.modelled_us == pytest.approx(raw * margin)


def test_packed_plans_are_priced_at_the_profiles_packed_factor():
    # XLA's complex FFTs run faster than its real ones: a plan packing two batch items into one complex FFT
    # is modelled at `Costs.packed_factor` of its cost (fitted by `structconv calibrate`); others not.
    problem = _problem("jax", (4096,), 65, channels=4, batch=4)
    base = candidate_plans.profile_for("jax")
    half = dataclasses.replace(base, costs=dataclasses.replace(base.costs, packed_factor=0.5))
    priced = {plan.label: plan.modelled_us for plan in candidate_plans.candidates(problem, base)}
    halved = {plan.label: plan.modelled_us for plan in candidate_plans.candidates(problem, half)}
    packed = [label for label in priced if label.endswith(":packed")]
    assert packed and len(packed) < len(priced)
    for label, us in priced.items():
        assert halved[label] == pytest.approx(us * (0.5 if label in packed else 1.0))


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_scipy_comparison_plans(backend_name):
    # benchmarks/fft.py (b), measured on one thread: the whole 2048^2 transform beats blocks of 270^2 about
    # 2x on every backend; blocks beat one 2^20-point transform (out of cache) 3-5x.
    assert _plan(backend_name, (2048, 2048), 65).fft.geometry == "whole"
    long = _plan(backend_name, (2**20,), 4097).fft
    assert long.blocked and long.counts[0] > 1


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_fft_over_the_budget_still_tiles(backend_name):
    # 32 -> 32 channels: the 1024 kernel spectra at the whole input's lengths dominate; blocks need less.
    plans = _ffts(backend_name, (128, 128), 15, channels=32)
    whole = plans["whole"].fft
    smaller = [p.fft for geometry, p in plans.items() if geometry in BLOCK_FACTORS and p.fft.blocked
               and p.fft.memory < whole.memory]
    assert smaller
    budget = max(p.memory for p in smaller)
    plan = _plan(backend_name, (128, 128), 15, budget=budget, channels=32).fft
    assert plan.blocked and plan.memory <= budget


def test_direct_flops_count_a_minimum_of_channels_at_the_native_ranks():
    """`Costs.direct_min_channels`: at ranks 1-3 a convolution of fewer channels costs as much as one of
    that many (XLA's CPU convolution)."""
    floored = dataclasses.replace(costs("jax"), direct_min_channels=8)
    flops_only = dataclasses.replace(floored, direct_gbps=math.inf)

    def flops(rank, channels, stacked=1, filters=None, along="inputs"):
        outputs, kernel = (16,) * rank, (3,) * rank
        filters = channels if filters is None else filters
        return cost_model.direct_us(flops_only, 2, outputs, kernel, channels, filters, 1, outputs, 4,
                                    stacked, along) - flops_only.direct_overhead_us

    assert flops(2, 1) == flops(2, 8) and flops(2, 16) == pytest.approx(4 * flops(2, 8))
    # Above, the floor holds for the decomposition's convolution, whose channels carry the stacked taps:
    # 1 -> 1 channels stacking 9 taps run a 9 -> 1 convolution, priced as 9 -> 8 (1/8 of 8 -> 8's 72 -> 8).
    assert flops(4, 1, stacked=9) == pytest.approx(flops(4, 8, stacked=9) / 8)
    assert flops(4, 16, stacked=9) == pytest.approx(4 * flops(4, 8, stacked=9))
    # ... along the axis that carries them: 16 -> 1 channels stacking 3 taps run 48 -> 1 (priced 48 -> 8)
    # along the inputs, 16 -> 3 (16 -> 8) along the filters (JAX's 4-D training step of 16 -> 1 channels,
    # k=2: 1.3 ms by the filters, 2.4 ms by the inputs, AMD EPYC).
    assert flops(4, 16, stacked=3, filters=1) == pytest.approx(3 * flops(4, 16, stacked=3, filters=1,
                                                                          along="filters"))
    assert flops(4, 8, stacked=3, along="filters") == pytest.approx(flops(4, 8, stacked=3))

    def cost(c, channels):
        return cost_model.direct_us(c, 2, (64, 64), (5, 5), channels, channels, 1, (64, 64), 4)

    # The model prices it: a 1-channel 2-D convolution costs more than without the floor.
    torch_costs = costs("torch")
    assert torch_costs.direct_min_channels == 1  # torch: no floor
    assert cost(floored, 1) > cost(floored, 8) / 2
    assert cost(torch_costs, 1) < cost(torch_costs, 8) / 2
    terms = cost_model.direct_terms(1, (10,), (3,), 4, 6, 2, (12,), 4, min_channels=8)
    assert terms["flops"] == 2 * 10 * 3 * 8 * 8 * 2  # per group: max(2, 8) x max(3, 8), two groups


def test_few_output_channels_price_each_flop_higher():
    """`Costs.direct_output_half`: each flop counts `1 + half / pairs + output_half / outputs` times, per
    group, so 12 -> 1 channels cost more per flop than 1 -> 12, and without it both the same."""
    def flops(channels, filters, half=0.0, output_half=0.0, groups=1):
        return cost_model.direct_terms(1, (100,), (5,), channels, filters, groups, (104,), 4,
                                       channel_half=half, output_half=output_half)["flops"]

    plain = 2 * 100 * 5 * 12
    assert flops(12, 1) == flops(1, 12) == plain
    assert flops(12, 1, output_half=16.0) == pytest.approx(plain * (1 + 16.0 / 1))
    assert flops(1, 12, output_half=16.0) == pytest.approx(plain * (1 + 16.0 / 12))
    assert flops(12, 1, half=4.0, output_half=16.0) == pytest.approx(plain * (1 + 4.0 / 12 + 16.0 / 1))
    # Per group: 8 -> 4 channels in 2 groups run 4 -> 2 per group.
    assert flops(8, 4, output_half=6.0, groups=2) == pytest.approx(2 * 100 * 5 * 4 * 2 * 2 * (1 + 6.0 / 2))


def test_direct_kernels_past_the_large_threshold_run_at_their_own_rate():
    """`Costs.direct_large_taps`: past a rank's threshold (taps along the longest axis) the direct flops
    run at that rank's `direct_large_gflops`; ranks without a threshold, and higher ranks, keep
    `direct_gflops`."""
    base = dataclasses.replace(costs("torch"), direct_gbps=math.inf, direct_overhead_us=0.0,
                               direct_channel_half=0.0, direct_min_channels=1)
    split = dataclasses.replace(base, direct_large_taps=(0, 7, 0, 0),
                                direct_large_gflops=(0.0, base.direct_gflops[1] / 3, 0.0, 0.0))

    def us(profile_costs, rank, k):
        outputs = (32,) * rank
        return cost_model.direct_us(profile_costs, 1, outputs, (k,) * rank, 4, 4, 1, outputs, 4)

    assert us(split, 2, 7) == pytest.approx(us(base, 2, 7))
    assert us(split, 2, 9) == pytest.approx(3 * us(base, 2, 9))
    for rank in (1, 3, 4):
        assert us(split, rank, 9) == pytest.approx(us(base, rank, 9))
