"""`structconv calibrate`: a short run on the active backend measures, fits and stores a usable profile,
and only the CPU is calibrated (the fit itself: test_fit.py)."""

import argparse
import math

import keras
import pytest

from structconv.ops import candidate_plans
from structconv.tuning import (
    backward_cliff,
    calibrate,
    command,
    fft_lengths,
    fit,
    fit_rates,
    odd_channels,
    profile,
)
from structconv.tuning.square_problem import square_problem

BACKEND = keras.backend.backend()


@pytest.mark.long
def test_the_command_measures_fits_stores_and_reports(fresh_cache, monkeypatch, capsys):
    """`structconv calibrate --quick` with a smaller grid: the profile it stores is the one the planner
    then uses, and what it prints names the fit."""
    monkeypatch.setattr(calibrate, "QUICK_GRID", [
        (1, 64, (3, 17), 1, 1, 2, "same", 1), (2, 16, (5,), 1, 2, 2, "same", 1),
        (1, 256, (33,), 2, 2, 2, "valid", 1), (2, 12, (3,), 2, 1, 1, "same", 1)])
    monkeypatch.setattr(calibrate, "QUICK_TRAINING_GRID", [(1, 64, 11, 1, 2, 2)])
    monkeypatch.setattr(backward_cliff, "LADDERS", {1: (64, 1, (3, 9))})
    monkeypatch.setattr(fft_lengths, "PROBE_LENGTHS", (60, 63, 64, 125, 128, 243, 250, 256))
    monkeypatch.setattr(odd_channels, "PROBE_CHANNELS", (3,))
    monkeypatch.setattr(odd_channels, "PROBE_FILTERS", (8, 24))
    args = argparse.Namespace(all_backends=False, threads=0, seconds=20.0, quick=True)
    assert command.run(args) == 0
    printed = capsys.readouterr().out
    for expected in ("Fitted on 7 shapes", "Fit error (relative, median / max)", "channels per group",
                     "leave the cache above", "blocks are priced at", "stacks its peeled taps along the",
                     "1 shapes timed with gradients", "Direct gradient, rank 1: ", "Profile: ",
                     "FFT lengths along the real transform's axis: ", "Odd input channel counts: ",
                     "us a call besides its convolution"):
        assert expected in printed, printed
    profile.forget_loaded()
    fitted = candidate_plans.profile_for(BACKEND, "cpu")
    assert fitted.source == "calibrated" and fitted.costs.direct_min_channels in fit_rates.MIN_CHANNELS
    rates = (*fitted.costs.direct_gflops, *fitted.costs.fft_gflops, fitted.costs.dft_gflops)
    assert all(math.isfinite(r) and r > 0 for r in rates)
    assert 2.0 <= fitted.uncertainty <= 10.0
    assert fitted.costs.block_margin in fit.BLOCK_MARGINS
    assert fitted.costs.fft_cache_bytes in fit_rates.CACHE_BYTES
    assert dict(fitted.provenance)["training_points"] == "1"
    weight = fitted.strategy.fft_odd_length_weight  # what this machine's probe found
    assert dict(fitted.provenance)["fft_lengths"].startswith("odd lengths avoided" if weight else
                                                             "smallest lengths")
    rows = fitted.strategy.odd_channel_factors  # what this machine's probe found, where it probes
    assert [row[:2] for row in rows] == ([(3, 8), (3, 24)] if odd_channels.probed() else [])


def test_the_command_names_the_ranks_where_the_side_with_fewer_channels_stacks():
    assert command._ranks(False) is None and command._ranks(True) == ""
    assert command._ranks((False, True)) == " at rank 4 and above"
    assert command._ranks((True, False)) == " at rank 3"
    assert command._ranks((False, False)) is None


def test_only_the_cpu_is_calibrated(fresh_cache, monkeypatch, capsys):
    # On a GPU JAX and TensorFlow would time the GPU and store the times as the CPU's; "auto" measures
    # there instead. Both refusals come before anything is timed or stored.
    with pytest.raises(ValueError, match="received device='gpu'; only 'cpu' is calibrated"):
        calibrate.calibrate(seconds=1.0, quick=True, device="gpu")
    from structconv._backend import get_backend

    monkeypatch.setattr(get_backend(), "device_of", lambda *tensors: "gpu")
    with pytest.raises(ValueError, match=f"this {BACKEND} process computes on 'gpu'.*CUDA_VISIBLE_DEVICES="):
        calibrate.calibrate(seconds=1.0, quick=True)
    args = argparse.Namespace(all_backends=False, threads=0, seconds=1.0, quick=True)
    assert command.run(args) == 2
    assert "fits the CPU model only" in capsys.readouterr().err
    profile.forget_loaded()
    assert candidate_plans.profile_for(BACKEND, "cpu").source == "shipped"


def test_calibration_times_no_direct_plan_of_an_item_on_the_backends_slower_path():
    """torch's 3-D convolution of one small item runs its own loops (`single_item_loops`), priced at a
    factor of oneDNN's rate, and `direct:halves` at another: fitted as oneDNN's convolution, their times
    would skew its rate. Calibration's grid holds such a shape (3-D 6^3, k=3, one channel)."""
    shipped = profile.shipped(BACKEND, "cpu")
    item = square_problem(BACKEND, "cpu", 3, 6, 3, 1, 1, 1, "same", 1, False)
    labels = {p.label for p in calibrate.every_plan(item, shipped)}
    offered = {p.label for p in candidate_plans.candidates(item, shipped)}
    if candidate_plans.single_item_loops(item):
        assert {"direct:native", "direct:halves"} <= offered
        assert labels and not any(label.startswith("direct") for label in labels)
    else:
        assert BACKEND != "torch" and "direct:native" in labels
    pair = square_problem(BACKEND, "cpu", 3, 6, 3, 2, 1, 1, "same", 1, False)
    assert not candidate_plans.single_item_loops(pair)
    assert "direct:native" in {p.label for p in calibrate.every_plan(pair, shipped)}


def test_the_grid_times_the_plans_it_is_given(fresh_cache):
    # `benchmarks/planner_replay.py` times every candidate of its held-out shapes (`every_plan`), calibration
    # a subset (`timed_plans`).
    grid = [(1, 64, (17,), 1, 1, 2, "same", 1)]

    def direct_only(problem, shipped):
        return [p for p in calibrate.timed_plans(problem, shipped) if p.algorithm == "direct"]

    default, given = (calibrate.measure_grid(BACKEND, "cpu", 10.0, grid, False, (), *plans_of)
                      for plans_of in ((), (direct_only,)))
    assert any(label.startswith("fft") for label in default[0]["times"])
    assert given[0]["times"] and all(label.startswith("direct") for label in given[0]["times"])
    assert set(given[0]["plans"]) == set(given[0]["times"])
    # Every plan holds each overlap-save geometry by both transforms, the timed plans one of them.
    problem = default[0]["problem"]
    shipped = profile.shipped(BACKEND, "cpu")
    every, timed = calibrate.every_plan(problem, shipped), calibrate.timed_plans(problem, shipped)
    assert {p.label for p in timed} < {p.label for p in every}
    blocked = [p for p in every if p.algorithm == "fft" and p.fft.blocked]
    assert blocked and {p.fft.kernel_transform for p in blocked} == {"dft", "fft"}
    timed_blocked = [p for p in timed if p.algorithm == "fft" and p.fft.blocked]
    assert len(timed_blocked) == len({p.fft.geometry for p in blocked})
