"""The probe of unpadded convolutions (`tuning.unpadded`): it times the backend's convolution without padding
and with a padded row where the backend offers such twins (JAX's 2-D CPU convolutions) and nothing
elsewhere; the rate it gives is what profiles store (`Strategy.unpadded_gflops_per_filter`). How the model
prices plans by it: tests/ops/test_padded_row.py."""

import dataclasses

import keras

from structconv.tuning import profile, unpadded

BACKEND = keras.backend.backend()


def test_the_probe_times_unpadded_convolutions_only_where_the_backend_pads_them(monkeypatch):
    monkeypatch.setattr(unpadded, "PROBE_SIZE", 24)  # small: the test's time, not the rate
    found = unpadded.probe()
    assert found["report"] and 0 <= found["seconds"] < 60
    if BACKEND != "jax":
        assert not unpadded.probed() and found["unpadded_gflops_per_filter"] == 0.0
        assert found["report"].startswith("not probed")
        return
    assert unpadded.probed()
    rate = found["unpadded_gflops_per_filter"]
    assert rate == 0.0 or 0.01 < rate < 1000
    assert found["report"].startswith("32 -> 2 by 5x5 unpadded ")


def test_the_rate_survives_a_profile_file(fresh_cache):
    from structconv.tuning import fingerprint

    shipped = profile.shipped(BACKEND, "cpu")
    mine = profile.with_probed(dataclasses.replace(shipped, source="calibrated"),
                               {"unpadded_gflops_per_filter": 1.5})
    machine = fingerprint.fingerprint_id(fingerprint.fingerprint(BACKEND, "cpu"))
    profile.save_calibrated(mine, machine, {"machine": "test"})
    assert profile.calibrated(BACKEND, "cpu", machine).strategy.unpadded_gflops_per_filter == 1.5


def test_only_the_shipped_jax_profile_carries_a_rate():
    shipped = profile.shipped(BACKEND, "cpu")
    if BACKEND == "jax":
        assert shipped.strategy.unpadded_gflops_per_filter > 0
        assert "unpadded" in dict(shipped.provenance)
    else:
        assert shipped.strategy.unpadded_gflops_per_filter == 0.0
