"""The direct candidates beside the backend's own convolution: which channel axis the decomposition stacks
its peeled taps along, decompositions onto another rank, torch's channels-first copy for 2-D training steps;
each, forced, computes the same convolution and gradients as a NumPy reference."""

import dataclasses

import keras
import numpy as np
import pytest
from conftest import assert_direct_plan_matches_reference, tensorflow_on_eigen, with_backward_cliff

from structconv.ops import candidate_plans, planner
from structconv.ops.algorithm import explain_choice
from structconv.tuning import profile
from structconv.tuning.square_problem import square_problem

BACKEND = keras.backend.backend()


@pytest.mark.parametrize("training", [False, True])
def test_the_decomposition_stacks_along_the_side_with_fewer_channels_where_the_profile_says(training):
    def preferred(channels, filters, k=3, groups=1, **strategy):
        problem = square_problem(BACKEND, "cpu", 4, 8, k, 1, channels, filters, "same", 1, training)
        if groups > 1:
            problem = dataclasses.replace(problem, groups=groups)
        return candidate_plans.preferred_stacking(problem, profile.Strategy(**strategy))

    mode = "" if training else "_inference"
    fewer = {f"decompose_fewer_channels{mode}": True}
    assert preferred(2, 8) == preferred(8, 2) == "inputs"  # the default: no such rule
    assert (preferred(2, 8, **fewer), preferred(8, 2, **fewer), preferred(4, 4, **fewer)) == (
        "inputs", "filters", "inputs")
    assert preferred(4, 4, **fewer, **{f"decompose_stacking{mode}": "filters"}) == "filters"
    # The rules that hold for "filters" hold for it too: no grouped stacking along the filters, no single
    # peeled tap, and with a gradient the limit on peeled taps.
    assert preferred(8, 2, groups=2, **fewer) == "inputs"
    assert preferred(8, 2, k=1, **fewer) == "inputs"
    assert preferred(8, 2, **fewer, decompose_filters_max_taps=2) == ("inputs" if training else "filters")
    # Only the problem's own mode reads its flag.
    other = {"decompose_fewer_channels" + ("_inference" if training else ""): True}
    assert preferred(8, 2, **other) == "inputs"


@pytest.mark.parametrize("training", [False, True])
def test_the_side_with_fewer_channels_may_be_taken_per_rank(training):
    # A tuple per rank from 3, the last entry holding above: here not at rank 4, and at ranks 5 and 6.
    mode = "" if training else "_inference"
    strategy = profile.Strategy(**{f"decompose_stacking{mode}": "filters",
                                   f"decompose_fewer_channels{mode}": (True, False, True)})

    def preferred(rank):
        return candidate_plans.preferred_stacking(
            square_problem(BACKEND, "cpu", rank, 6, 2, 1, 2, 8, "same", 1, training), strategy)

    assert [strategy.fewer_channels(rank, training) for rank in (2, 3, 4, 5, 6)] == [True, True, False,
                                                                                     True, True]
    assert not any(strategy.fewer_channels(rank, not training) for rank in (3, 4, 5))  # the other mode's
    assert (preferred(4), preferred(5), preferred(6)) == ("filters", "inputs", "inputs")


def test_without_a_gradient_the_inputs_take_the_taps_from_the_profiles_count_of_filters():
    # 0 at rank 3 (the default: never), 8 at rank 4 and above; the filters preferred otherwise.
    strategy = profile.Strategy(decompose_stacking="filters", decompose_stacking_inference="filters",
                                decompose_inputs_min_filters_inference=(0, 8))

    def preferred(channels, filters, rank=4, training=False, groups=1, **more):
        problem = square_problem(BACKEND, "cpu", rank, 6, 3, 1, channels, filters, "same", 1, training)
        if groups > 1:
            problem = dataclasses.replace(problem, groups=groups)
        return candidate_plans.preferred_stacking(problem, dataclasses.replace(strategy, **more))

    assert [strategy.inputs_min_filters(rank) for rank in (3, 4, 5)] == [0, 8, 8]
    assert (preferred(4, 4), preferred(8, 8), preferred(16, 16), preferred(2, 8)) == (
        "filters", "inputs", "inputs", "inputs")
    assert preferred(8, 8, rank=5) == "inputs"
    assert preferred(8, 8, training=True) == "filters"  # the count is the forward pass's only
    # Counted per group (a grouped decomposition stacks along the inputs anyway), and where the channels
    # differ the side with fewer takes them where the profile says so.
    assert preferred(8, 8, groups=2, decompose_inputs_min_filters_inference=8) == "inputs"
    assert preferred(16, 8, decompose_fewer_channels_inference=True) == "filters"
    assert preferred(8, 16, decompose_fewer_channels_inference=True) == "inputs"
    if candidate_plans.stacked_taps(square_problem(BACKEND, "cpu", 3, 6, 3, 1, 8, 8, "same", 1, False)) > 1:
        assert preferred(8, 8, rank=3) == "filters"  # the backend decomposes rank 3; no count there


def test_with_a_gradient_the_inputs_take_the_taps_from_the_profiles_own_count_for_training_steps():
    # torch's 4-D training steps: 8 -> 8 and more along the inputs, 4 -> 4 along the filters; the forward
    # pass keeps its own count (none here).
    strategy = profile.Strategy(decompose_stacking="filters", decompose_stacking_inference="filters",
                                decompose_inputs_min_filters=(0, 8))

    def preferred(channels, filters, training=True, rank=4, **more):
        problem = square_problem(BACKEND, "cpu", rank, 6, 3, 1, channels, filters, "same", 1, training)
        return candidate_plans.preferred_stacking(problem, dataclasses.replace(strategy, **more))

    assert [strategy.inputs_min_filters(rank, training=True) for rank in (3, 4, 5)] == [0, 8, 8]
    assert [strategy.inputs_min_filters(rank) for rank in (3, 4, 5)] == [0, 0, 0]
    assert (preferred(4, 4), preferred(8, 8), preferred(16, 16)) == ("filters", "inputs", "inputs")
    assert (preferred(8, 8, training=False), preferred(16, 16, training=False)) == ("filters", "filters")
    assert preferred(16, 8, decompose_fewer_channels=True) == "filters"  # the side-with-fewer rule first


def test_the_stacking_the_profile_does_not_prefer_is_priced_at_a_factor_of_the_preferred_one():
    # Fewer inputs than filters with the filters preferred: the channel floor prices 2 -> 16 channels
    # stacked along the filters (2 -> 48 onto 3-D, or more onto 2-D) above 6 -> 16 along the inputs, but
    # the rates are fitted to the faster stacking and the preference to which was faster.
    shipped = candidate_plans.profile_for(BACKEND)
    tuned = dataclasses.replace(shipped, costs=dataclasses.replace(shipped.costs, direct_min_channels=8),
                                strategy=dataclasses.replace(
                                    shipped.strategy, decompose_stacking_inference="filters",
                                    decompose_fewer_channels_inference=False,
                                    decompose_inputs_min_filters_inference=0))
    problem = square_problem(BACKEND, "cpu", 4, 6, 3, 1, 2, 16, "same", 1, False)
    assert candidate_plans.preferred_stacking(problem, tuned.strategy) == "filters"
    modelled = {p.label: p.modelled_us for p in candidate_plans.candidates(problem, tuned)
                if p.label in ("direct:inputs", "direct:filters")}
    assert modelled["direct:inputs"] == pytest.approx(
        candidate_plans.UNMODELLED_FACTOR["other_stacking"] * modelled["direct:filters"])


@pytest.mark.parametrize("training", [False, True])
def test_no_stacking_along_the_filters_with_a_gradient_past_the_profiles_limit(training):
    # The stacking along the filters holds one stacked output per peeled tap in its backward pass:
    # past the limit it is neither preferred nor a candidate that measuring would time.
    shipped = candidate_plans.profile_for(BACKEND)
    problem = square_problem(BACKEND, "cpu", 6, 6, 3, 2, 2, 2, "valid", 1, training)
    peeled = candidate_plans.stacked_taps(problem)
    assert peeled > 1

    def stackings(limit):
        strategy = dataclasses.replace(shipped.strategy, decompose_stacking="filters",
                                       decompose_stacking_inference="filters",
                                       decompose_filters_max_taps=limit)
        plans = candidate_plans.candidates(problem, dataclasses.replace(shipped, strategy=strategy))
        return {p.direct for p in plans if p.algorithm == "direct" and p.onto is None}

    assert {"inputs", "filters"} <= stackings(None)
    assert {"inputs", "filters"} <= stackings(peeled)
    assert ("filters" in stackings(peeled - 1)) is not training
    assert "inputs" in stackings(peeled - 1)


def _conv2d_problem(training, data_format="channels_last", rank=2):
    return dataclasses.replace(square_problem(BACKEND, "cpu", rank, 12, 5, 2, 3, 4, training=training),
                               data_format=data_format)


def test_a_channels_first_copy_is_a_candidate_of_torch_2d_training_steps():
    """torch runs a channels_last input in channels-last memory, whose 2-D gradient left oneDNN's fast path
    past 13x13 taps on the AMD EPYC (1394 ms against 50 ms on a copy, docs/fft.md): a copy is a candidate
    of ungrouped 2-D training steps on channels_last data, and only there (a depthwise step ran 1.4-6.6x
    slower on the copy)."""
    def offered(problem):
        return "direct:channels_first" in {p.label for p in candidate_plans.candidates(problem)}

    assert offered(_conv2d_problem(True)) == (BACKEND == "torch")
    depthwise = dataclasses.replace(_conv2d_problem(True), filters=3, groups=3)
    for problem in (_conv2d_problem(False), _conv2d_problem(True, "channels_first"),
                    _conv2d_problem(True, rank=1), _conv2d_problem(True, rank=3), depthwise):
        assert not offered(problem)


def test_past_the_backward_cliff_the_model_trains_on_the_copy(autotune_mode, monkeypatch):
    autotune_mode("off")
    cliffed = with_backward_cliff(candidate_plans.profile_for(BACKEND), (0, 13 * 13), (0.5,))
    monkeypatch.setattr(candidate_plans, "profile_for", lambda *args, **kwargs: cliffed)
    past = square_problem(BACKEND, "cpu", 2, 64, 15, 2, 16, 16, training=True)
    before = square_problem(BACKEND, "cpu", 2, 64, 13, 2, 16, 16, training=True)
    assert planner.plan_conv(past, "direct").direct == ("channels_first" if BACKEND == "torch" else "native")
    assert planner.plan_conv(before, "direct").direct == "native"


@pytest.mark.skipif(BACKEND != "torch", reason="the candidates are the active backend's")
def test_the_shipped_torch_profile_knows_the_2d_cliff(autotune_mode):
    """Set by hand from two AMD EPYC VMs (its provenance says so): uncalibrated, the model alone must not
    train a 15x15 kernel on the input as is (24-29x slower there), and keeps it before 14x14."""
    autotune_mode("off")
    shapes = dict(input_shape=(2, 64, 64, 16), padding="same", training=True, algorithm="direct",
                  backend_name="torch")
    assert "13x13" in dict(candidate_plans.profile_for("torch").provenance)["backward_cliff"]
    assert explain_choice(kernel_shape=(15, 15, 16, 16), **shapes)["plan"] == "direct:channels_first"
    assert explain_choice(kernel_shape=(13, 13, 16, 16), **shapes)["plan"] == "direct:native"


def test_the_copy_computes_the_same_convolution_and_gradients():
    """Forced on every backend (the executor's path is the same)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 7, 6, 3))
    k = rng.standard_normal((3, 4, 3, 4))
    assert_direct_plan_matches_reference("channels_first", x, k, (1, 1), rng)


@pytest.mark.parametrize("method", ["inputs", "filters"])
def test_a_rank_3_decomposition_onto_2d_computes_the_same_convolution_and_gradients(method):
    """Rank 3 peeled onto 2-D, as JAX's CPU and TensorFlow's without oneDNN run it (a strided step: where
    their 3-D convolutions' gradients took 14-64x as long); forced on every backend."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 7, 6, 5, 3))
    k = rng.standard_normal((3, 2, 3, 3, 4))
    assert_direct_plan_matches_reference(method, x, k, (2, 1, 2), rng)


@pytest.mark.parametrize("onto", [2, 3])
@pytest.mark.parametrize("method", ["inputs", "filters"])
def test_a_rank_4_decomposition_onto_either_rank_computes_the_same_convolution_and_gradients(method, onto):
    """A strided 4-D step peeled onto 2-D or onto 3-D (`Plan.onto`), forced on every backend: TensorFlow's
    without oneDNN measures both (onto its 3-D convolution strided 4-D steps ran 17-22x slower)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 5, 4, 6, 5, 2))
    k = rng.standard_normal((2, 3, 2, 3, 2, 3))
    assert_direct_plan_matches_reference(method, x, k, (2, 1, 2, 1), rng, onto)


@pytest.mark.parametrize("onto", [2, 3])
def test_a_rank_4_transposed_decomposition_onto_either_rank_computes_the_same_and_gradients(onto):
    """The full strided 4-D transposed convolution peeled onto 2-D or 3-D, stacked along the filters (onto
    Eigen's 3-D transposed convolution a strided 4-D step ran 18x slower than onto 2-D)."""
    rng = np.random.default_rng(6)
    y = rng.standard_normal((1, 3, 2, 3, 2, 2))
    k = rng.standard_normal((2, 3, 2, 2, 3, 2))
    assert_direct_plan_matches_reference("filters", y, k, (2, 1, 2, 1), rng, onto, transposed=True)


@pytest.mark.parametrize("transposed", [False, True])
def test_a_decomposition_onto_another_rank_is_a_candidate_the_model_never_picks(transposed, autotune_mode):
    # Where the backend's convolution of a rank below its target is a candidate too: TensorFlow's 2-D one
    # without oneDNN from rank 4 (its 3-D convolution's strided steps 17-22x slower), JAX's 3-D on a GPU.
    autotune_mode("off")
    for device in ("cpu", "gpu"):
        problem = square_problem(BACKEND, device, 4, 8, 3, batch=2, channels=4, filters=8, training=True)
        if transposed:
            problem = dataclasses.replace(problem, transposed=True, padding=((0, 0),) * 4)
        plans = candidate_plans.candidates(problem)
        others = {p.onto for p in plans if p.algorithm == "direct" and p.onto}
        expected = ({2} if tensorflow_on_eigen() and device == "cpu"
                    else {3} if BACKEND == "jax" and device == "gpu" else set())
        assert others == expected, (device, sorted(p.label for p in plans))
        target = min(p.modelled_us for p in plans if p.algorithm == "direct" and not p.onto)
        for plan in plans:
            if plan.onto:  # never cheaper than the target's: the model's rates are the target's
                factor = candidate_plans.UNMODELLED_FACTOR["other_target"]
                assert plan.modelled_us >= factor * target * (1 - 1e-9)
                assert plan.label.endswith(f":{plan.onto}d")
        assert planner.plan_conv(problem).onto is None
    # Rank 3 on TensorFlow without oneDNN already decomposes onto 2-D: no other target.
    problem = square_problem(BACKEND, "cpu", 3, 8, 3, batch=2, channels=4, filters=8, training=True)
    assert not any(p.onto for p in candidate_plans.candidates(problem))


@pytest.mark.parametrize("name", ["torch", "tensorflow"])
def test_the_shipped_profiles_stack_a_4d_forward_decomposition_of_16_filters_along_the_inputs(name):
    """Measured with oneDNN (docs/benchmarks.md, session 36): equal channel counts, forward, the 4-D
    decomposition ran faster along the inputs from 16 filters on torch and TensorFlow, and torch's along the
    filters at 4 and 8; a profile calibrated from them keeps the count whatever stacking its grid fits."""
    shipped = profile.shipped(name, "cpu")

    def preferred(channels, strategy=shipped.strategy, rank=4):
        problem = square_problem(BACKEND, "cpu", rank, 6, 3, 1, channels, channels, "same", 1, False)
        return candidate_plans.preferred_stacking(problem, strategy)

    assert preferred(16) == preferred(32) == "inputs"
    fitted_otherwise = dataclasses.replace(shipped.strategy, decompose_stacking_inference="filters")
    assert (preferred(8, fitted_otherwise), preferred(16, fitted_otherwise)) == ("filters", "inputs")
    if name == "torch":
        assert preferred(4) == preferred(8) == "filters"
    assert shipped.strategy.inputs_min_filters(3) == 0


def test_the_shipped_torch_profile_stacks_4d_training_steps_of_8_filters_along_the_inputs():
    """Measured with oneDNN (docs/benchmarks.md, session 37): equal channel counts, with a gradient, torch's
    4-D decomposition ran faster along the inputs from 8 -> 8 channels, along the filters at 4 -> 4 with
    k=3; a profile calibrated from it keeps the count whatever stacking its grid fits."""
    shipped = profile.shipped("torch", "cpu")

    def preferred(channels, strategy=shipped.strategy):
        # 3 peeled taps whichever rank the backend decomposes onto (torch's limit with a gradient is 3)
        problem = square_problem(BACKEND, "cpu", 4, 6, (3, 1, 3, 3), 1, channels, channels, "same", 1, True)
        return candidate_plans.preferred_stacking(problem, strategy)

    fitted_otherwise = dataclasses.replace(shipped.strategy, decompose_stacking="filters")
    assert [preferred(c, fitted_otherwise) for c in (4, 8, 16)] == ["filters", "inputs", "inputs"]
    assert shipped.strategy.inputs_min_filters(3, training=True) == 0
    assert profile.shipped("tensorflow", "cpu").strategy.inputs_min_filters(4, training=True) == 0
    # XLA's training steps ran faster along the inputs at every equal-channel shape of ranks 3 and 4
    jax = profile.shipped("jax", "cpu").strategy
    assert [preferred(c, jax) for c in (4, 8, 16)] == ["inputs"] * 3


def test_the_shipped_tensorflow_profile_stacks_training_steps_along_the_filters_up_to_4_taps():
    """Measured with oneDNN after TensorFlow's slices were rebuilt (docs/benchmarks.md, session 37): 4-D
    training steps ran faster along the filters with fewer filters and with equal counts up to 4 peeled
    taps, along the inputs with fewer inputs and from 5 taps."""
    strategy = profile.shipped("tensorflow", "cpu").strategy

    def preferred(channels, filters, first_taps=3):
        # `first_taps` peeled taps whichever rank the backend decomposes onto
        problem = square_problem(BACKEND, "cpu", 4, 6, (first_taps, 1, 3, 3), 1, channels, filters, "same", 1,
                                 True)
        return candidate_plans.preferred_stacking(problem, strategy)

    assert (preferred(8, 8), preferred(8, 2), preferred(2, 8)) == ("filters", "filters", "inputs")
    assert (preferred(8, 8, first_taps=4), preferred(8, 8, first_taps=5)) == ("filters", "inputs")


@pytest.mark.parametrize("rank", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("training", [False, True])
def test_float64_direct_plans_compute_at_the_profiles_float64_factor_of_their_rank(rank, training):
    """The model's rates are float32's; a float64 direct convolution runs 2-47x its float32 time on the
    backends' CPU kernels, which `Costs.direct_float64_factor` prices per rank: its compute term, not the
    call's overhead nor its memory traffic. FFT plans and float32 problems keep their price."""
    base = candidate_plans.profile_for(BACKEND, "cpu")
    factors = (2.0, 3.0, 5.0, 7.0)
    factor = factors[min(rank, len(factors)) - 1]

    def priced(dtype, direct_float64_factor, **costs):
        changed = dataclasses.replace(base.costs, direct_float64_factor=direct_float64_factor, **costs)
        problem = square_problem(BACKEND, "cpu", rank, 12 if rank < 4 else 6, 3, 1, 2, 2, "same", 1, training,
                                 dtype=dtype)
        return {plan.label: plan.modelled_us for plan in candidate_plans.candidates(
            problem, dataclasses.replace(base, costs=changed))}

    plain, scaled = priced("float64", (1.0,)), priced("float64", factors)
    assert priced("float32", factors) == priced("float32", (1.0,))
    assert scaled.keys() == plain.keys()
    for label, us in scaled.items():
        if label.startswith("fft"):
            assert us == plain[label]
        else:
            assert plain[label] < us < factor * plain[label], label
    # With no overhead and unbounded bandwidth, the compute term is all the time: `factor` times it.
    bare = {"direct_overhead_us": 0.0, "direct_gbps": float("inf"), "direct_cliff_taps": (0,)}
    plain, scaled = priced("float64", (1.0,), **bare), priced("float64", factors, **bare)
    for label in (label for label in scaled if label.startswith("direct")):
        assert scaled[label] == pytest.approx(factor * plain[label], rel=1e-9), label


def test_the_shipped_profiles_price_float64_direct_dearer_but_on_tensorflows_eigen_kernels():
    """Measured (docs/benchmarks.md, session 36): float64 direct over float32 time at least 1.5-16x the
    model's own ratio on the shipped profiles' backends, per rank; TensorFlow's Eigen kernels ran float64
    at 0.9-1.8x float32 (an AMD EPYC), so its profile keeps 1."""
    for name in ("torch", "jax", "tensorflow"):
        factors = profile.shipped(name, "cpu").costs.direct_float64_factor
        assert len(factors) == 4 and min(factors) >= 1.5, (name, factors)
    assert profile.shipped("tensorflow", "cpu", "Eigen").costs.direct_float64_factor == (1.0,)
