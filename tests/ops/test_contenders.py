"""Which candidates measured planning times (`pick_contenders`, `follow_ups`, `neighbours`), and when
times measured earlier under another algorithm decide without timing (`reusable`)."""

import dataclasses

import pytest

from structconv.ops import contenders
from structconv.ops.plan import FftPlan, Plan


def _fake(label, us, uncertain_us=0.0):
    """A plan of `label` ("direct:inputs", "fft:8:fft:loop", ...) modelled at `us` (of which `uncertain_us`
    doubted)."""
    parts = label.split(":")
    if parts[0] == "direct":
        return Plan("direct", direct=parts[1], modelled_us=us, uncertain_us=uncertain_us)
    geometry = parts[1] if parts[1] == "whole" else int(parts[1])
    fft = FftPlan(geometry=geometry, lengths=(64,), steps=(), counts=(1,), kernel_transform=parts[2],
                  product=parts[3], memory=0)
    return Plan("fft", fft=fft, modelled_us=us)


def _labels(plans):
    return [p.label for p in plans]


def test_contenders_are_the_cheapest_of_each_kind_of_way_first():
    # The model's four cheapest are the direct convolution and three block counts of one transform; the
    # whole transforms come before the other block counts (a 1-D case of issue 13: blocks of 8 timed
    # 1.2 ms, the whole transform by DFT 1.6 ms, the other kinds were never timed).
    permitted = [_fake(label, us) for label, us in [
        ("direct:native", 1.0), ("fft:8:fft:loop", 1.1), ("fft:16:fft:loop", 1.2), ("fft:4:fft:loop", 1.3),
        ("fft:2:fft:loop", 1.4), ("fft:whole:dft:loop", 1.6), ("fft:whole:fft:loop", 3.0),
        ("fft:8:dft:loop", 9.0)]]
    chosen = contenders.pick_contenders(permitted, band=5.0, limit=4)
    assert _labels(chosen) == ["direct:native", "fft:8:fft:loop", "fft:whole:dft:loop", "fft:whole:fft:loop"]
    # The limit left, the next cheapest fill it; nothing beyond the band.
    assert _labels(contenders.pick_contenders(permitted, band=5.0, limit=6)) == [
        "direct:native", "fft:8:fft:loop", "fft:16:fft:loop", "fft:4:fft:loop", "fft:whole:dft:loop",
        "fft:whole:fft:loop"]


def test_contenders_include_each_direct_method_and_an_fft_within_the_wide_band():
    # torch's 4-D decomposition was modelled 4-10x slower than it ran (issue 13): beyond the band, every
    # direct method and the cheapest FFT within `WIDE_BAND` are timed too; nothing beyond that.
    wide = contenders.WIDE_BAND
    permitted = [_fake(label, us) for label, us in [
        ("fft:whole:dft:loop", 1.0), ("fft:whole:fft:loop", 1.5), ("direct:inputs", 0.5 * wide),
        ("direct:filters", 0.8 * wide), ("direct:native", 1.5 * wide)]]
    chosen = contenders.pick_contenders(permitted, band=2.0, limit=5)
    assert _labels(chosen) == ["fft:whole:dft:loop", "fft:whole:fft:loop", "direct:inputs", "direct:filters"]
    reverse = [_fake("direct:native", 1.0), _fake("fft:4:dft:loop", 0.9 * wide),
               _fake("fft:2:dft:loop", wide)]
    assert _labels(contenders.pick_contenders(reverse, band=2.0, limit=5)) == [
        "direct:native", "fft:4:dft:loop"]


def test_the_wide_band_adds_a_direct_way_in_one_working_dtype():
    """A half-precision problem's own-dtype plans are priced at the ratio measured on the machine
    (`tuning.half_precision`): where that leaves them out of the band, the wide band does not bring them
    back beside their widened twins (torch's bfloat16 3-D convolution took 76 ms where widened it took
    1.0: timing it cost more than the whole of the rest)."""
    wide = contenders.WIDE_BAND
    widened = dataclasses.replace(_fake("direct:native", 1.0), working_dtype="float32")
    own = _fake("direct:native", 0.6 * wide)
    chosen = contenders.pick_contenders([widened, _fake("fft:whole:dft:loop", 1.5), own], band=2.0)
    assert _labels(chosen) == ["direct:native:float32", "fft:whole:dft:loop"]
    # Within the band, both are timed: a family each.
    near = _fake("direct:native", 1.2)
    assert _labels(contenders.pick_contenders([widened, near], band=2.0)) == [
        "direct:native:float32", "direct:native"]


def test_the_other_fft_families_follow_where_the_times_leave_them_a_chance():
    # A direct plan priced far too cheap (torch, 3-D 32^3, k=4, one channel, training: modelled 0.16 ms, ran
    # in 5 ms) put only one FFT plan in the band: the whole transform by FFT, modelled 11.2x the direct
    # plan, was never timed and ran 1.15x faster than the one by DFT that was. Once the first rounds show
    # it, the FFT families are compared within the band of the cheapest FFT plan, as algorithm="fft" does.
    permitted = [_fake(label, us) for label, us in [
        ("direct:native", 0.16), ("fft:whole:dft:loop", 1.59), ("fft:whole:fft:loop", 1.79),
        ("fft:4:dft:loop", 5.84), ("fft:4:fft:loop", 5.86), ("fft:2:dft:loop", 8.36),
        ("fft:2:fft:loop", 20.0)]]
    first = contenders.pick_contenders(permitted, band=10.0, limit=5)
    assert _labels(first) == ["direct:native", "fft:whole:dft:loop"]
    times = {"direct:native": 5.0, "fft:whole:dft:loop": 2.0}
    assert _labels(contenders.follow_ups(permitted, times, band=10.0)) == [
        "fft:whole:fft:loop", "fft:4:dft:loop", "fft:4:fft:loop"]
    # ... the band of the cheapest FFT plan: a family modelled beyond it is not timed.
    assert _labels(contenders.follow_ups(permitted, times, band=3.0)) == ["fft:whole:fft:loop"]
    # Where the times show the direct plan priced right and the FFT plan far behind, the other FFT
    # families are not worth a call (TensorFlow, 4-D 15^4, k=2, 48 -> 48, one thread: direct 72 ms, the
    # FFT families 0.7-1.5 s a call; measuring them took 39 s).
    priced_right = {"direct:native": 0.17, "fft:whole:dft:loop": 4.0}
    assert contenders.follow_ups(permitted, priced_right, band=10.0) == []
    # ... and those predicted within the band of the fastest time still follow.
    assert _labels(contenders.follow_ups(permitted, {"direct:native": 2.0, "fft:whole:dft:loop": 2.5},
                                         band=2.0)) == ["fft:whole:fft:loop"]
    # No FFT plan timed, no FFT family added.
    assert contenders.follow_ups(permitted, {"direct:native": 5.0}, band=10.0) == []
    assert contenders.follow_ups(permitted, {}, band=10.0) == []


def test_the_neighbours_of_a_blocked_winner_follow():
    permitted = [_fake(label, us) for label, us in [
        ("fft:4:fft:loop", 1.0), ("fft:whole:fft:loop", 1.2), ("fft:2:fft:loop", 1.3),
        ("fft:8:fft:loop", 1.4), ("fft:16:fft:loop", 1.5)]]
    times = {"fft:4:fft:loop": 300.0, "fft:whole:fft:loop": 500.0}
    assert _labels(contenders.follow_ups(permitted, times, band=5.0)) == ["fft:2:fft:loop", "fft:8:fft:loop"]
    times.update({"fft:2:fft:loop": 320.0, "fft:8:fft:loop": 280.0})
    assert _labels(contenders.follow_ups(permitted, times, band=5.0)) == ["fft:16:fft:loop"]
    times["fft:16:fft:loop"] = 290.0
    assert contenders.follow_ups(permitted, times, band=5.0) == []


def test_the_neighbours_of_the_fastest_fft_plan_follow_where_it_is_close_behind_a_direct_one():
    # JAX, 1-D 16913 samples, k=53, 16 -> 16, a training step: blocks of 8 timed 18.0 ms, direct 13.3;
    # blocks of 16 ran in 9.1 ms.
    permitted = [_fake(label, us) for label, us in [
        ("fft:8:dft:packed", 1.0), ("direct:native", 1.1), ("fft:16:dft:packed", 1.2),
        ("fft:4:dft:packed", 1.3)]]
    times = {"fft:8:dft:packed": 18000.0, "direct:native": 13300.0}
    assert _labels(contenders.follow_ups(permitted, times, band=5.0)) == ["fft:16:dft:packed",
                                                                          "fft:4:dft:packed"]
    # Far behind (over `FFT_NEIGHBOURS_WITHIN`), the block counts next to it are not worth a call.
    far = {**times, "fft:8:dft:packed": 13300.0 * contenders.FFT_NEIGHBOURS_WITHIN * 1.01}
    assert contenders.follow_ups(permitted, far, band=5.0) == []
    # Timed, the fastest of all wins, and a blocked winner's own neighbours follow (32: not permitted).
    times.update({"fft:4:dft:packed": 30000.0, "fft:16:dft:packed": 9100.0})
    assert contenders.follow_ups(permitted, times, band=5.0) == []
    assert contenders.fastest(permitted, times).label == "fft:16:dft:packed"


def test_the_neighbours_of_each_transforms_fastest_blocked_plan_follow_where_it_is_close():
    # JAX, 1-D 12000 samples, k=61, 4 -> 4, a training step: blocks of 8 by FFT 1.43 ms, by DFT 1.51;
    # blocks of 16 by DFT ran in 1.07 ms.
    permitted = [_fake(label, us) for label, us in [
        ("fft:8:fft:loop", 1.0), ("fft:8:dft:packed", 1.1), ("fft:16:fft:loop", 1.2),
        ("fft:4:fft:loop", 1.3), ("fft:16:dft:packed", 1.4), ("fft:4:dft:packed", 1.5)]]
    times = {"fft:8:fft:loop": 1430.0, "fft:8:dft:packed": 1510.0, "fft:16:fft:loop": 1500.0,
             "fft:4:fft:loop": 1530.0}
    assert _labels(contenders.follow_ups(permitted, times, band=5.0)) == ["fft:16:dft:packed",
                                                                          "fft:4:dft:packed"]
    # Past `TRANSFORM_NEIGHBOURS_WITHIN` of the fastest, the other transform's block counts are not tried.
    far = {**times, "fft:8:dft:packed": 1430.0 * contenders.TRANSFORM_NEIGHBOURS_WITHIN * 1.01}
    assert contenders.follow_ups(permitted, far, band=5.0) == []


def test_neighbours_are_the_adjacent_block_counts_by_the_same_transform():
    permitted = [_fake(f"fft:{geometry}:{transform}:loop", 1.0)
                 for geometry in ("whole", 2, 4, 8, 16) for transform in ("dft", "fft")]
    assert _labels(contenders.neighbours(permitted, "fft:4:fft:loop")) == ["fft:2:fft:loop", "fft:8:fft:loop"]
    assert _labels(contenders.neighbours(permitted, "fft:16:dft:loop")) == ["fft:8:dft:loop"]
    assert contenders.neighbours(permitted, "fft:whole:dft:loop") == []
    assert contenders.neighbours(permitted + [_fake("direct:native", 1.0)], "direct:native") == []


def test_times_measured_under_another_algorithm_decide_where_they_cover_each_kind_of_way():
    permitted = [_fake(label, us) for label, us in [
        ("fft:whole:dft:loop", 1.0), ("fft:whole:fft:loop", 1.2), ("fft:4:dft:loop", 1.5)]]
    timed_first = contenders.pick_contenders(permitted, band=5.0)
    # "auto" timed every FFT family: "fft" picks the fastest of them, whatever the model says.
    times = {"direct:native": 900.0, "fft:whole:dft:loop": 400.0, "fft:whole:fft:loop": 300.0,
             "fft:4:dft:loop": 350.0, "fft:8:dft:loop": 500.0, "fft:2:dft:loop": 380.0}
    assert contenders.reusable(permitted, timed_first, times, 5.0).label == "fft:whole:fft:loop"
    # Only the plans permitted now count: a faster plan of another algorithm is not picked.
    assert contenders.reusable(permitted, timed_first, {**times, "direct:native": 1.0}, 5.0).label == (
        "fft:whole:fft:loop")
    # A family this algorithm would time that the earlier timing left out: measure again.
    del times["fft:4:dft:loop"]
    assert contenders.reusable(permitted, timed_first, times, 5.0) is None
    assert contenders.reusable(permitted, timed_first, {}, 5.0) is None


def test_a_blocked_winner_is_reused_only_with_its_neighbours_timed():
    permitted = [_fake(label, 1.0) for label in (
        "fft:whole:fft:loop", "fft:2:fft:loop", "fft:4:fft:loop", "fft:8:fft:loop")]
    timed_first = [permitted[0], permitted[2]]
    times = {"fft:whole:fft:loop": 500.0, "fft:4:fft:loop": 300.0}
    # Blocks of 4 fastest, blocks of 2 and 8 untimed (measuring would time them after the rounds).
    assert contenders.reusable(permitted, timed_first, times, 5.0) is None
    times.update({"fft:2:fft:loop": 320.0, "fft:8:fft:loop": 280.0})
    # The neighbours timed, the fastest of all wins (its own neighbours, 4 and 16, 16 not permitted).
    assert contenders.reusable(permitted, timed_first, times, 5.0).label == "fft:8:fft:loop"


def test_a_plan_is_timed_where_it_would_be_in_the_band_without_the_part_the_model_doubts():
    # TensorFlow, 1-D 19792 samples, k=23, 16 -> 16, a training step at batch 2: past the cliff its probe
    # found at batch 1 (17 taps), direct was priced at 1338 ms (1321 of them the cliff) against 15.6 ms by
    # FFT, and never timed; it ran in 22.4 ms, the FFT plan in 27.2.
    permitted = [_fake("fft:16:fft:matmul", 15.6), _fake("fft:16:dft:matmul", 16.0),
                 _fake("direct:native", 1338.5, uncertain_us=1320.9)]
    assert "direct:native" in _labels(contenders.pick_contenders(permitted, band=5.0))
    # Beyond the band even without the cliff: not timed.
    beyond = permitted[:2] + [_fake("direct:native", 1338.5 + 200.0, uncertain_us=1320.9 - 200.0)]
    assert "direct:native" not in _labels(contenders.pick_contenders(beyond, band=5.0))


def test_a_direct_plan_timed_within_the_tie_of_the_fastest_fft_plan_is_kept():
    # JAX, 3-D 27x29x58, k=2x2x2: FFT measured at 3.50 ms against direct's 3.52, then ran 4.02-5.29 ms
    # against 3.63-4.01 (FFT plans' times spread more between measurements).
    plans = [_fake("direct:inputs", 1.0), _fake("direct:filters", 1.0), _fake("fft:whole:dft:packed", 1.0)]
    fft_us = 3503.3
    for direct_us, expected in ((3522.5, "direct:inputs"), (fft_us * contenders.DIRECT_TIE * 1.001,
                                                            "fft:whole:dft:packed")):
        times = {"direct:inputs": direct_us, "direct:filters": 4562.0, "fft:whole:dft:packed": fft_us}
        assert contenders.fastest(plans, times).label == expected
    # Between direct plans, or between FFT plans, the fastest; a faster direct plan is kept.
    times = {"direct:inputs": 3522.5, "direct:filters": 3500.0, "fft:whole:dft:packed": 3600.0}
    assert contenders.fastest(plans, times).label == "direct:filters"
    ffts = [_fake("fft:whole:dft:packed", 1.0), _fake("fft:8:dft:packed", 1.0)]
    assert contenders.fastest(ffts, {"fft:whole:dft:packed": 3.0, "fft:8:dft:packed": 2.9}).label == (
        "fft:8:dft:packed")
    # Measured under another algorithm, the same rule decides (`reusable`: "auto" runs what "direct" would).
    times = {"direct:inputs": 3522.5, "direct:filters": 4562.0, "fft:whole:dft:packed": fft_us}
    assert contenders.reusable(plans, plans, times, band=5.0).label == "direct:inputs"


@pytest.mark.parametrize("twin, suffix", [({"even_channels": True}, ":even"), ({"padded_row": True}, ":row")])
def test_measured_planning_times_a_direct_twin_as_a_way_of_its_own(twin, suffix):
    # A twin on one zero channel more (`ops.even_channels`) or with a padded row (`ops.padded_row`), priced
    # behind five FFT geometries of one family: timed beside the plain plan all the same.
    plans = [Plan("direct", direct="native", modelled_us=1.0),
             Plan("direct", direct="native", modelled_us=1.3, **twin)]
    for i, geometry in enumerate(("whole", 2, 4, 8, 16)):
        plans.insert(1, Plan("fft", modelled_us=1.1 + i / 100, fft=FftPlan(
            geometry=geometry, lengths=(64,), steps=(), counts=(1,), kernel_transform="dft",
            product="loop", memory=0)))
    chosen = [p.label for p in contenders.pick_contenders(sorted(plans, key=lambda p: p.modelled_us), 5.0,
                                                          limit=2)]
    assert f"direct:native{suffix}" in chosen and "direct:native" in chosen
