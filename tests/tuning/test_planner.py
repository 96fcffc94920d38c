"""The planner: every candidate it offers computes the same convolution, the model and the rules decide
what they can, measuring decides the rest (inside `fit` too, on every backend), and every decision says
where it came from."""

import dataclasses

import keras
import numpy as np
import pytest
from conftest import assert_close, compiled, tensor, tensorflow_on_eigen
from reference import conv_reference, padding_pairs
from tuning.fit_twice import fit_twice

from structconv import config
from structconv import ops as sops
from structconv._backend import get_backend
from structconv.ops import candidate_plans, contenders, fft_candidates, planner
from structconv.ops.algorithm import explain_choice
from structconv.ops.arguments import conv_arguments
from structconv.ops.conv import prepare_conv
from structconv.ops.execute import execute
from structconv.ops.plan import Plan
from structconv.tuning import autotune
from structconv.tuning.square_problem import square_problem

BACKEND = keras.backend.backend()
CASES = [  # (input shape, kernel shape, padding, strides, groups)
    ((2, 40, 3), (11, 3, 4), "same", 1, 1),
    ((2, 20, 18, 2), (7, 5, 2, 4), "valid", 2, 1),
    ((2, 7, 6, 8, 3), (3, 2, 3, 3, 4), "same", 1, 1),
    ((1, 6, 7, 5, 6, 2), (3, 2, 3, 2, 2, 4), "same", 1, 1),
    ((2, 5, 6, 5, 4, 4), (2, 3, 2, 2, 2, 4), (1, "valid", "same", 0), 1, 2),
]


def _problem_and_operands(case, rng):
    input_shape, kernel_shape, padding, strides, groups = case
    x = rng.standard_normal(input_shape).astype("float32")
    k = rng.standard_normal(kernel_shape).astype("float32")
    args = conv_arguments(len(input_shape) - 2, strides, padding, groups=groups)
    problem, plan = prepare_conv(tensor(x), tensor(k), args)
    return problem, plan, x, k, args


def _long_1d_problem(size, k):
    return square_problem(BACKEND, "cpu", 1, size, k, batch=1, channels=8, filters=1)


def test_no_kernel_spectrum_by_dft_with_a_huge_matrix():
    # A 221 x 65537 DFT matrix: TensorFlow compiled such a plan's first call for 30 s (planner's comment).
    plans = [p for p in candidate_plans.candidates(_long_1d_problem(116231, 221)) if p.algorithm == "fft"]
    whole = {p.fft.kernel_transform for p in plans if p.fft.geometry == "whole"}
    assert whole == {"fft"}
    assert all(p.fft.kernel_transform == "fft"
               or fft_candidates.dft_matrix_entries((221,), p.fft.lengths)
               <= fft_candidates.DFT_MATRIX_MAX_ENTRIES
               for p in plans)
    assert any(p.fft.kernel_transform == "dft" for p in plans)  # short blocks keep both transforms
    # 63 x 8193 entries: both transforms stay candidates of the whole FFT.
    short = candidate_plans.candidates(_long_1d_problem(16384, 63))
    assert {p.fft.kernel_transform for p in short if p.algorithm == "fft" and p.fft.geometry == "whole"} == {
        "dft", "fft"}


def test_xlas_nd_convolution_is_priced_at_its_own_rate_where_the_profile_has_one():
    # One channel, 4-D: XLA's own convolution ran 6.6x faster than the decomposition on JAX (1 thread of an
    # AMD EPYC); with 16 channels 11x slower (docs/fft.md). Only JAX has it as a candidate above rank 3.
    shipped = candidate_plans.profile_for(BACKEND)
    def with_rate(rate):
        return dataclasses.replace(shipped, costs=dataclasses.replace(shipped.costs, native_nd_gflops=rate))

    rated = with_rate(5.0)
    for channels in (1, 16):
        problem = square_problem(BACKEND, "cpu", 4, 10, 2, batch=2, channels=channels, filters=channels)
        modelled = {p.label: p.modelled_us for p in candidate_plans.candidates(problem, rated)}
        unrated = {p.label: p.modelled_us for p in candidate_plans.candidates(problem, with_rate(0.0))}
        assert ("direct:native" in modelled) == (BACKEND == "jax")
        if BACKEND != "jax":
            continue
        flops = 2 * 2 * 10**4 * 2**4 * channels**2
        memory = 4 * 2 * channels * (11**4 + 10**4)  # "same": one more sample padded on each axis
        expected = rated.costs.direct_overhead_us + flops / 5e3 + memory / (rated.costs.direct_gbps * 1e3)
        assert modelled["direct:native"] == pytest.approx(expected, rel=1e-9)
        preferred = min(unrated[label] for label in ("direct:inputs", "direct:filters"))
        factor = candidate_plans.UNMODELLED_FACTOR["native_nd"]
        assert unrated["direct:native"] == pytest.approx(factor * preferred)


@pytest.mark.parametrize("rank", [3, 4, 5])
@pytest.mark.parametrize("training", [False, True])
def test_no_native_convolution_above_rank_3_on_a_gpu(rank, training, autotune_mode):
    # On an H200, JAX's rank-4 convolution went to cuDNN (3 spatial axes at most): its float32 gradient
    # aborted the process in compilation and a grouped, strided float64 gradient came out wrong. On a GPU
    # every backend decomposes ranks above 3; on JAX's CPU, XLA's N-D convolution stays a candidate.
    autotune_mode("off")  # the model's picks: a "gpu" problem must not be timed on a machine without one
    for device in ("cpu", "gpu"):
        problem = square_problem(BACKEND, device, rank, 6, 2, batch=1, channels=2, filters=2,
                                 training=training)
        labels = {p.label for p in candidate_plans.candidates(problem)}
        native_nd = BACKEND == "jax" and device == "cpu"
        assert ("direct:native" in labels) == (rank <= 3 or native_nd), (device, sorted(labels))
        # XLA's CPU and TensorFlow's without oneDNN: the decomposition onto 2-D beside their 3-D convolution.
        decomposed = rank > 3 or (rank == 3 and device == "cpu" and (native_nd or tensorflow_on_eigen()))
        assert ("direct:inputs" in labels) == decomposed, (device, sorted(labels))
        for algorithm in ("auto", "direct"):
            plan = planner.plan_conv(problem, algorithm)
            assert rank <= 3 or native_nd or plan.label != "direct:native", (device, algorithm, plan.label)


@pytest.mark.parametrize("case", CASES)
def test_every_candidate_computes_the_same_convolution(case):
    rng = np.random.default_rng(0)
    problem, _, x, k, args = _problem_and_operands(case, rng)
    expected = conv_reference(x, k, args.strides, padding_pairs(args.padding, x.shape[1:-1], k.shape[:-2],
                              args.strides, args.dilation_rate), args.dilation_rate, args.groups)
    plans = candidate_plans.candidates(problem)
    labels = {p.label for p in plans}
    # JAX's CPU decomposes rank 3 too, onto XLA's 2-D convolution (its 3-D one ran 1.7-64x slower), and so
    # does TensorFlow's without oneDNN (Eigen's 14-53x at strided training steps).
    xla_cpu = BACKEND == "jax" and problem.device == "cpu"
    rank_3_decomposed = problem.device == "cpu" and (xla_cpu or tensorflow_on_eigen())
    assert ("direct:inputs" in labels) == (problem.rank > 3 or (rank_3_decomposed and problem.rank == 3))
    assert ("direct:native" in labels) == (problem.rank <= 3 or xla_cpu)
    assert any(p.algorithm == "fft" for p in plans)
    # Every FFT geometry by both kernel transforms: which is faster varied up to 4x (issue 13).
    transforms = {}
    for plan in plans:
        if plan.algorithm == "fft":
            transforms.setdefault(plan.fft.geometry, set()).add(plan.fft.kernel_transform)
    assert all(found == {"dft", "fft"} for found in transforms.values()), transforms
    for plan in plans:  # each plan one program on JAX (`compiled`), as a model runs it
        run = compiled(lambda a, b, plan=plan: execute(plan, problem, a, b))
        assert_close(run(tensor(x), tensor(k)), expected, rtol=1e-4)


def test_plans_are_cached_per_problem_and_hashable():
    problem, plan, *_ = _problem_and_operands(CASES[0], np.random.default_rng(0))
    assert planner.plan_conv(problem, "auto") is plan
    assert hash(problem) == hash(dataclasses.replace(problem)) and {plan: 1}[plan] == 1


def test_the_model_alone_when_autotuning_is_off(autotune_mode):
    autotune_mode("off")
    autotune.reset_statistics()
    info = explain_choice((2, 256, 256, 8), (15, 15, 8, 8), padding="same")
    assert info["source"] == "shipped profile" and autotune.statistics()["problems"] == 0
    assert info["plan"] == min(info["modelled_us"], key=info["modelled_us"].get)


def test_measuring_picks_the_fastest_and_says_so(autotune_mode):
    autotune_mode("always")
    autotune.reset_statistics()
    info = explain_choice((2, 64, 2), (11, 2, 2), padding="same")
    assert info["source"] == "measured" and autotune.statistics()["problems"] == 1
    measured = info["measured_us"]
    # The fastest (times rounded to 0.1 us can tie), or a direct plan within `DIRECT_TIE` of an FFT one.
    fastest = min(measured.values())
    assert measured[info["plan"]] == fastest or (
        info["algorithm"] == "direct" and measured[info["plan"]] <= contenders.DIRECT_TIE * fastest)
    assert explain_choice((2, 64, 2), (11, 2, 2), padding="same")["measured_us"] == measured
    assert autotune.statistics()["problems"] == 1  # the second call measured nothing


def test_rules_hold_whatever_the_mode(autotune_mode):
    autotune_mode("off")
    # 9 taps: no FFT; 8 channels: no other direct way (torch's `direct:im2col` takes at most 4 on a side).
    assert explain_choice((2, 64, 64, 8), (3, 3, 8, 8), padding="same")["source"] == "rule"
    autotune_mode("always")
    config_budget = config.fft_memory_budget()
    config.set_fft_memory_budget(1024)
    try:
        info = explain_choice((2, 64, 8), (11, 8, 8), padding="same")
        assert info["algorithm"] == "direct" and info["source"] == "rule"
    finally:
        config.set_fft_memory_budget(config_budget)


def test_few_taps_try_fft_only_by_measuring_and_within_the_band():
    # XLA's 3x3 convolution of 12 -> 2 channels (74x33, batch 8, channels_first) ran 2.28 ms against 0.84
    # by FFT, modelled 1.8x direct's time (AVX-512 AMD EPYC): under `fft_min_taps`, FFT is timed where
    # the model puts it within the measuring band, never picked by the model alone.
    problem = square_problem(BACKEND, "cpu", 2, 40, 3, 8, 12, 2)
    shipped = candidate_plans.profile_for(BACKEND)
    assert problem.taps < shipped.strategy.fft_min_taps
    fft = next(p for p in candidate_plans.candidates(problem, shipped) if p.algorithm == "fft")
    direct_us = 100 * shipped.costs.fft_overhead_us  # no "tiny" problem
    band = planner.measuring_band(shipped, "uncertain")
    for ratio, expected in ((0.5 * band, ["direct", "fft"]), (1.5 * band, ["direct"])):
        plans = [Plan("direct", modelled_us=direct_us),
                 dataclasses.replace(fft, modelled_us=ratio * direct_us)]
        allowed = {mode: sorted(p.algorithm for p in planner.allowed(problem, plans, "auto", shipped, 2**40,
                                                                     mode))
                   for mode in ("off", "uncertain", "always")}
        assert allowed == {"off": ["direct"], "uncertain": expected, "always": ["direct", "fft"]}, ratio
    # From 10 taps no such rule: the model alone may pick FFT.
    wider = square_problem(BACKEND, "cpu", 2, 40, (5, 2), 8, 12, 2)
    assert wider.taps == shipped.strategy.fft_min_taps
    plans = [Plan("direct", modelled_us=direct_us), dataclasses.replace(fft, modelled_us=0.5 * direct_us)]
    assert [p.algorithm for p in planner.allowed(wider, plans, "auto", shipped, 2**40, "off")] == [
        "fft", "direct"]


def test_measuring_tries_fft_down_to_one_overhead_the_model_alone_to_two():
    # torch, 3-D 15^3, k=6, one channel (1 thread, AVX-512 AMD EPYC): direct modelled at 411 us, the FFT's
    # overhead at 268, ran 0.59 ms against 0.36 by FFT; at two overheads it was kept direct untimed.
    problem = square_problem(BACKEND, "cpu", 3, 15, 6, 2, 1, 1)
    shipped = candidate_plans.profile_for(BACKEND)
    trusted = dataclasses.replace(shipped, uncertainty=2.0)
    overhead = trusted.costs.fft_overhead_us
    fft = next(p for p in candidate_plans.candidates(problem, trusted) if p.algorithm == "fft")
    plans = [Plan("direct", modelled_us=1.5 * overhead), fft]
    allowed = {mode: sorted(p.algorithm for p in planner.allowed(problem, plans, "auto", trusted, 2**40,
                                                                 mode))
               for mode in ("off", "uncertain")}
    assert allowed == {"off": ["direct"], "uncertain": ["direct", "fft"]}
    # Below one overhead no FFT plan the model puts past `TINY_NEAR` of direct is timed: direct, untimed,
    # in every mode but "always".
    direct = Plan("direct", modelled_us=0.9 * overhead)
    far = dataclasses.replace(fft, modelled_us=1.1 * planner.TINY_NEAR * direct.modelled_us)
    found = planner.allowed(problem, [direct, far], "auto", trusted, 2**40)
    assert [p.algorithm for p in found] == ["direct"]
    # One the model puts within it is timed where "auto" measures: the overhead is a fitted constant, above
    # the FFT plan's real time at a TensorFlow sub-millisecond problem (run direct at 1.26x its time). The
    # model alone still runs direct.
    near = dataclasses.replace(fft, modelled_us=0.9 * planner.TINY_NEAR * direct.modelled_us)
    allowed = {mode: sorted(p.algorithm for p in planner.allowed(problem, [direct, near], "auto", trusted,
                                                                 2**40, mode))
               for mode in ("off", "uncertain")}
    assert allowed == {"off": ["direct"], "uncertain": ["direct", "fft"]}


def test_an_unknown_batch_reuses_the_choice_measured_at_a_known_one(autotune_mode):
    autotune_mode("always")
    known = explain_choice((4, 64, 2), (11, 2, 2), padding="same")
    autotune.reset_statistics()
    unknown = explain_choice((None, 64, 2), (11, 2, 2), padding="same")
    # The same variant (pairs of batch items are packed only for an even batch known when traced).
    assert unknown["plan"].replace(":packed", ":planes") == known["plan"].replace(":packed", ":planes")
    assert autotune.statistics()["problems"] == 0


def test_measuring_inside_fit_then_nothing_per_step(autotune_mode):
    autotune_mode("always")
    layer, x, first, later = fit_twice(24, 2, 3, 9)
    assert first >= 1 and later == 0
    plans = [plan for _, plan in layer._structconv_plans.values()]
    assert any(plan.source in ("measured", "plan file") for plan in plans)
    # The measured plan computes the layer's convolution.
    kernel, bias = (np.asarray(keras.ops.convert_to_numpy(w), np.float64) for w in layer.weights)
    expected = conv_reference(x, kernel, 1, [(4, 4), (4, 4)], 1) + bias
    assert_close(layer(tensor(x), training=True), expected, rtol=1e-4)


def test_a_call_traced_for_xla_is_a_problem_of_its_own_measured_in_that_form(autotune_mode, monkeypatch):
    # TensorFlow under `jit_compile=True` (Keras's `fit` default where it sees a GPU): on a 2-vCPU AMD EPYC
    # a 4-D 8^4, k=2, 4 x 2 -> 2 convolution ran direct 2.54 ms against FFT 4.02 in a plain `tf.function`,
    # 5.81 against 1.16 under XLA, so the candidates are timed under XLA there. Other backends have one form.
    autotune_mode("always")
    backend = get_backend()
    forms = []
    real = backend.compile_for_timing

    def spy(function, arrays, gradient, device, xla=False, dtype=None):
        forms.append(xla)
        return real(function, arrays, gradient, device, xla=xla, dtype=dtype)

    monkeypatch.setattr(backend, "compile_for_timing", spy)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 40, 2)).astype("float32")
    k = rng.standard_normal((11, 2, 2)).astype("float32")
    expected = conv_reference(x, k, 1, padding_pairs("same", (40,), (11,), 1, 1), 1)
    problems = []

    def convolve(x_t, k_t):
        problems.append(prepare_conv(x_t, k_t, conv_arguments(1, padding="same"))[0])
        return sops.conv(x_t, k_t, padding="same")

    if BACKEND != "tensorflow":
        assert_close(compiled(convolve)(tensor(x), tensor(k)), expected, rtol=1e-4)
        assert [p.xla for p in problems] == [False] and set(forms) == {False}
        return
    import tensorflow as tf

    for jit_compile in (False, True):
        step = tf.function(convolve, jit_compile=jit_compile)
        assert_close(step(tensor(x), tensor(k)), expected, rtol=1e-4)
    assert [p.xla for p in problems] == [False, True]
    assert problems[0] != problems[1] and problems[0].key() != problems[1].key()
    timed_under_xla = forms[forms.index(True):]
    assert False in forms and timed_under_xla and all(timed_under_xla)


def test_a_neighbour_timed_after_the_contenders_can_win_and_is_remembered(autotune_mode, monkeypatch):
    # `measure` times the neighbouring block counts of a winning block plan after the contenders; the
    # fastest of all is the plan, and a plan file naming a neighbour is honoured (issue 13: the neighbours
    # were timed but only the contenders could win, and a remembered neighbour was measured again).
    autotune_mode("always")
    x, k = np.zeros((1, 16384, 4), "float32"), np.zeros((129, 4, 4), "float32")
    args = conv_arguments(1, padding="same")
    planner.clear_plans()
    seen = {}

    def fake_measure(problem, plans, expand):
        times = {p.label: 100.0 for p in plans}
        for plan in plans:  # a blocked contender fastest: its neighbours follow
            extra = [p for p in expand({**times, plan.label: 90.0})
                     if p.label not in times and plan.algorithm == "fft" and plan.fft.blocked
                     and p.fft.geometry in (plan.fft.geometry // 2, plan.fft.geometry * 2)]
            if extra:
                seen["neighbour"] = extra[0].label
                times[extra[0].label] = 50.0
                break
        return times

    monkeypatch.setattr(autotune, "measure", fake_measure)
    _, plan = prepare_conv(tensor(x), tensor(k), args)
    assert "neighbour" in seen  # the case has a blocked contender whose neighbour was not a contender
    assert plan.label == seen["neighbour"] and plan.source == "measured"
    planner.clear_plans()
    monkeypatch.setattr(autotune, "measure", lambda *a: pytest.fail("the plan file names the plan"))
    monkeypatch.setattr(planner.plan_file, "lookup", lambda *a: {"label": seen["neighbour"], "times_us": {}})
    _, plan = prepare_conv(tensor(x), tensor(k), args)
    assert plan.label == seen["neighbour"] and plan.source == "plan file"


def _fake_measure(timed):
    """A stand-in for `autotune.measure` giving each plan a time from its label (and timing what `expand`
    names after, until it names nothing new, as `measure` does); `timed` collects every time it gave."""
    def measure(problem, plans, expand):
        times = {p.label: 100.0 + sum(map(ord, p.label)) % 97 for p in plans}
        while more := [p for p in expand(times) if p.label not in times]:
            times.update((p.label, 100.0 + sum(map(ord, p.label)) % 97) for p in more)
        timed.update(times)
        return times
    return measure


def _fastest(times, kind):
    return min((label for label in times if label.startswith(kind)), key=times.get)


def test_direct_and_fft_reuse_what_auto_timed_and_auto_what_they_timed(autotune_mode, monkeypatch):
    # Timed apart, "auto" and "fft" can each find another FFT variant fastest (issue 13); "fft" and
    # "direct" planned after "auto" pick the fastest of their kind among its times, measuring nothing.
    autotune_mode("always")
    monkeypatch.setattr(planner.plan_file, "lookup", lambda *a: None)  # in this process only
    monkeypatch.setattr(planner.plan_file, "record", lambda *a, **k: None)
    timed = {}
    monkeypatch.setattr(autotune, "measure", _fake_measure(timed))
    shape, kernel = (2, 7, 6, 6, 6, 2), (3, 3, 3, 3, 2, 2)  # 4-D: several direct ways too
    auto = explain_choice(shape, kernel, padding="same")
    assert auto["source"] == "measured" and auto["plan"] == min(timed, key=timed.get)
    assert sum(label.startswith("direct") for label in timed) > 1 and any(
        label.startswith("fft") for label in timed)
    monkeypatch.setattr(autotune, "measure", lambda *a: pytest.fail("auto's times cover it"))
    for algorithm in ("fft", "direct"):
        info = explain_choice(shape, kernel, padding="same", algorithm=algorithm)
        assert info["plan"] == _fastest(timed, algorithm) and info["source"] == "measured"
    # The other way round: "auto" after "direct" and "fft" each measured theirs.
    planner.clear_plans()
    timed.clear()
    monkeypatch.setattr(autotune, "measure", _fake_measure(timed))
    for algorithm in ("direct", "fft"):
        explain_choice(shape, kernel, padding="same", algorithm=algorithm)
    monkeypatch.setattr(autotune, "measure", lambda *a: pytest.fail("direct's and fft's times cover it"))
    assert explain_choice(shape, kernel, padding="same")["plan"] == min(timed, key=timed.get)


def test_another_process_plans_fft_from_the_times_auto_left_in_the_plan_file(autotune_mode, monkeypatch):
    autotune_mode("always")
    timed = {}
    monkeypatch.setattr(autotune, "measure", _fake_measure(timed))
    explain_choice((2, 64, 2), (11, 2, 2), padding="same")
    planner.clear_plans()  # a second process: nothing in memory, the plan file read afresh
    planner.plan_file.forget_loaded()
    monkeypatch.setattr(autotune, "measure", lambda *a: pytest.fail("the plan file's times cover it"))
    info = explain_choice((2, 64, 2), (11, 2, 2), padding="same", algorithm="fft")
    assert info["plan"] == _fastest(timed, "fft") and info["source"] == "plan file"
