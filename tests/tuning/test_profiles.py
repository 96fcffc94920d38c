"""Profiles: shipped ones load with their provenance, a calibrated one takes precedence, and a corrupt or
unwritable file gives one warning and the shipped model, never a crash."""

import dataclasses
import json
import os
import warnings

import keras
import pytest

from structconv.ops import candidate_plans, cost_model
from structconv.tuning import fingerprint, profile, storage

BACKEND = keras.backend.backend()


def test_the_shipped_onednn_profiles_know_the_backward_cliff_and_the_eigen_one_has_none():
    """Set by hand from `structconv calibrate`'s bisection on AVX-512 AMD EPYC VMs (the provenance says
    so): past the cliff a direct gradient is priced at its slow rate, before it not at all; TensorFlow's
    Eigen kernels (oneDNN off) had none up to 257 taps in 1-D and 31x31 in 2-D."""
    flops = 1e9

    def extra(costs, rank, taps):
        return cost_model.direct_cliff_us(costs, rank, taps, flops)

    tensorflow = profile.shipped("tensorflow", "cpu")
    assert "backward_cliff" in dict(tensorflow.provenance)
    assert extra(tensorflow.costs, 1, 49) == 0 and extra(tensorflow.costs, 1, 65) > 0
    assert extra(tensorflow.costs, 2, 14 * 14) == 0 and extra(tensorflow.costs, 2, 15 * 15) > 0
    torch = profile.shipped("torch", "cpu")
    assert extra(torch.costs, 2, 13 * 13) == 0 and extra(torch.costs, 2, 14 * 14) > 0
    eigen = profile.shipped("tensorflow", "cpu", "Eigen")
    assert all(extra(eigen.costs, rank, 31**rank) == 0 for rank in (1, 2, 3))


@pytest.mark.parametrize("backend_name, kernels", [("tensorflow", ""), ("jax", ""), ("torch", ""),
                                                     ("tensorflow", "Eigen")])
def test_shipped_profiles_load_with_provenance(backend_name, kernels):
    shipped = profile.shipped(backend_name, "cpu", kernels)
    assert shipped.source == "shipped" and shipped.backend == backend_name
    provenance = dict(shipped.provenance)
    for key in ("machine", "threads", "date", "command"):
        assert key in provenance
    if kernels:
        assert provenance["kernels"] == kernels and shipped != profile.shipped(backend_name, "cpu")
    assert profile.from_dict(profile.to_dict(shipped), "shipped") == shipped


def test_the_shipped_eigen_profile_stacks_per_rank_with_a_gradient():
    """Set by hand from `structconv calibrate` on an AMD EPYC without AVX-512 (the provenance says so):
    TensorFlow's 3-D training steps ran faster stacked along the filters whatever the channels, its 4-D
    ones along the side with fewer channels."""
    eigen = profile.shipped("tensorflow", "cpu", "Eigen")
    assert "stacking_with_a_gradient" in dict(eigen.provenance)
    assert eigen.strategy.decompose_stacking == "filters"
    assert [eigen.strategy.fewer_channels(rank, True) for rank in (3, 4, 5)] == [False, True, True]


def test_a_per_rank_stacking_flag_round_trips():
    shipped = profile.shipped(BACKEND, "cpu")
    tuned = dataclasses.replace(shipped, strategy=dataclasses.replace(
        shipped.strategy, decompose_fewer_channels=(False, True)))
    again = profile.from_dict(json.loads(json.dumps(profile.to_dict(tuned))), "calibrated")
    assert again.strategy.decompose_fewer_channels == (False, True)
    assert (again.strategy.fewer_channels(3, True), again.strategy.fewer_channels(7, True)) == (False, True)


def test_a_device_without_a_profile_measures_everything():
    unprofiled = profile.shipped(BACKEND, "gpu")
    assert unprofiled.source == "unprofiled" and unprofiled.uncertainty == float("inf")


def _machine_id():
    return fingerprint.fingerprint_id(fingerprint.fingerprint(BACKEND, "cpu"))


def test_a_calibrated_profile_takes_precedence_and_round_trips(fresh_cache):
    shipped = profile.shipped(BACKEND, "cpu")
    mine = dataclasses.replace(shipped, source="calibrated", uncertainty=1.5,
                               costs=dataclasses.replace(shipped.costs, direct_overhead_us=123.0))
    path = profile.save_calibrated(mine, _machine_id(), {"machine": "test", "date": "today"})
    assert path is not None and os.path.dirname(path) == str(fresh_cache)
    loaded = candidate_plans.profile_for(BACKEND, "cpu")
    assert loaded.source == "calibrated" and loaded.costs == mine.costs and loaded.uncertainty == 1.5
    assert dict(loaded.provenance)["machine"] == "test"


def test_a_corrupt_profile_warns_once_and_falls_back(fresh_cache):
    path = profile.calibrated_path(BACKEND, "cpu", _machine_id())
    os.makedirs(fresh_cache, exist_ok=True)
    with open(path, "w") as out:
        out.write(f'{{"format": {profile.FORMAT}, "backend": "torch", "costs": {{"direct_overhead_us"')  # cut
    with pytest.warns(RuntimeWarning, match="falling back to the cost model"):
        assert candidate_plans.profile_for(BACKEND, "cpu").source == "shipped"
    profile.forget_loaded()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert candidate_plans.profile_for(BACKEND, "cpu").source == "shipped"  # warned once per path


def test_a_malformed_profile_warns_and_falls_back(fresh_cache):
    path = profile.calibrated_path(BACKEND, "cpu", _machine_id())
    os.makedirs(fresh_cache, exist_ok=True)
    with open(path, "w") as out:
        json.dump({**profile.to_dict(profile.shipped(BACKEND, "cpu")), "costs": {"wrong": 1}}, out)
    with pytest.warns(RuntimeWarning, match="malformed profile"):
        assert candidate_plans.profile_for(BACKEND, "cpu").source == "shipped"


def test_a_profile_of_an_older_format_warns_to_calibrate_again(fresh_cache):
    # Format 1 calibrated JAX's decomposition at XLA's N-D convolution's rate (profile.FORMAT's comment).
    old = profile.to_dict(profile.shipped(BACKEND, "cpu"))
    old["format"] = profile.FORMAT - 1
    path = profile.calibrated_path(BACKEND, "cpu", _machine_id())
    os.makedirs(fresh_cache, exist_ok=True)
    with open(path, "w") as out:
        json.dump(old, out)
    with pytest.warns(RuntimeWarning, match="older structconv .* run `structconv calibrate` again"):
        assert candidate_plans.profile_for(BACKEND, "cpu").source == "shipped"


def test_a_profile_for_another_planner_revision_warns_to_calibrate_again(fresh_cache):
    # JAX's revision 2 decomposes rank 3 on the CPU: a profile calibrated before priced that decomposition
    # at XLA's 3-D convolution's rate (profile.PLANNER_REVISIONS' comment). Files written before revisions
    # existed hold none and count as revision 1.
    current = profile.PLANNER_REVISIONS.get(BACKEND, 1)
    written = profile.to_dict(profile.shipped(BACKEND, "cpu"))
    assert written["planner_revision"] == current
    assert profile.from_dict(written, "calibrated").costs == profile.shipped(BACKEND, "cpu").costs
    unnumbered = {key: value for key, value in written.items() if key != "planner_revision"}
    if current == 1:
        assert profile.from_dict(unnumbered, "calibrated").costs == profile.shipped(BACKEND, "cpu").costs
    else:
        with pytest.raises(ValueError, match=f"{BACKEND} profile of planner revision 1 .* calibrate"):
            profile.from_dict(unnumbered, "calibrated")
    stale = {**written, "planner_revision": current + 1}
    path = profile.calibrated_path(BACKEND, "cpu", _machine_id())
    os.makedirs(fresh_cache, exist_ok=True)
    with open(path, "w") as out:
        json.dump(stale, out)
    message = f"{BACKEND} profile of planner revision {current + 1} .* calibrate"
    with pytest.warns(RuntimeWarning, match=message):
        assert candidate_plans.profile_for(BACKEND, "cpu").source == "shipped"


def test_every_shipped_profile_is_of_its_backends_planner_revision():
    folder = os.path.join(os.path.dirname(profile.__file__), "profiles")
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name)) as handle:
            data = json.load(handle)
        assert data.get("planner_revision", 1) == profile.PLANNER_REVISIONS.get(data["backend"], 1), name


def test_an_unwritable_cache_warns_and_does_not_raise(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(storage.CACHE_ENVIRONMENT_VARIABLE, str(blocker / "cache"))
    with pytest.warns(RuntimeWarning, match="cannot write"):
        assert profile.save_calibrated(profile.shipped(BACKEND, "cpu"), "x", {}) is None


def test_the_fingerprint_names_the_machine():
    found = fingerprint.fingerprint(BACKEND, "cpu")
    assert found["backend"] == BACKEND and found["cpu"] and found["threads"] >= 1
    assert fingerprint.fingerprint_id(found) == fingerprint.fingerprint_id(dict(found))
    other = {**found, "threads": found["threads"] + 1}
    assert fingerprint.fingerprint_id(other) != fingerprint.fingerprint_id(found)


def test_the_fingerprint_numbers_the_cpu_generation():
    # VMs of two Intel generations both name theirs "Intel(R) Xeon(R) Processor": the family and model
    # numbers tell them apart, read here as /proc/cpuinfo's first processor states them.
    found = fingerprint.fingerprint(BACKEND, "cpu")
    expected = {}
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                expected.setdefault(key.strip().lower(), value.strip())
    for key in ("cpu family", "model", "stepping", "cpu implementer", "cpu part"):
        if key in expected:
            assert f"{key} {expected[key]}" in found["cpu_identity"].split(", ")
    if "model" in expected:
        renumbered = found["cpu_identity"].replace(f"model {expected['model']}", "model 0")
        other = {**found, "cpu_identity": renumbered}
        assert fingerprint.fingerprint_id(other) != fingerprint.fingerprint_id(found)


def test_the_fingerprint_names_the_cpu_extensions_and_the_kernels():
    found = fingerprint.fingerprint(BACKEND, "cpu")
    flags = []
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = next(line for line in handle if line.startswith("flags")).split(":", 1)[1].split()
    assert found["cpu_extensions"] == "+".join(f for f in fingerprint._VECTOR_FLAGS if f in flags)
    # What the kernels are, by the backend's own switches (`make test` runs this file with oneDNN off).
    if BACKEND == "tensorflow":
        flag = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
        if flag in ("0", "1"):
            assert found["kernels"] == {"0": "Eigen", "1": "oneDNN"}[flag]
        else:
            assert found["kernels"] in ("oneDNN", "Eigen")
    elif BACKEND == "torch":
        import torch

        assert found["kernels"] == ("oneDNN" if torch.backends.mkldnn.is_available() else "native")
        with warnings.catch_warnings(), torch.backends.mkldnn.flags(enabled=False):
            warnings.simplefilter("ignore")  # torch's notice about TF32 on Intel GPUs
            without = fingerprint.fingerprint(BACKEND, "cpu")
        assert without["kernels"] == "native"
        assert fingerprint.fingerprint_id(without) != fingerprint.fingerprint_id(found)
    else:
        assert found["kernels"] == "XLA"
    assert fingerprint.fingerprint(BACKEND, "gpu")["kernels"] == ""


def test_a_profile_shipped_for_the_machines_kernels_is_preferred(tmp_path, monkeypatch):
    plain = profile.to_dict(profile.shipped("torch", "cpu"))
    for name, uncertainty in (("torch-cpu", 7.0), ("torch-cpu-Eigen", 3.0)):
        (tmp_path / f"{name}.json").write_text(json.dumps({**plain, "uncertainty": uncertainty}))
    monkeypatch.setattr(profile, "_SHIPPED_DIR", str(tmp_path))
    profile.shipped.cache_clear()
    try:
        assert profile.shipped("torch", "cpu", "Eigen").uncertainty == 3.0
        assert profile.shipped("torch", "cpu", "oneDNN").uncertainty == 7.0
        assert profile.shipped("torch", "cpu").uncertainty == 7.0
        found = fingerprint.fingerprint(BACKEND, "cpu")
        expected = 3.0 if found["kernels"] == "Eigen" else 7.0
        assert profile.shipped_for({**found, "backend": "torch"}).uncertainty == expected
    finally:
        profile.shipped.cache_clear()
