"""The probe of odd input channel counts (`tuning.odd_channels`): it times the backend's convolution where
the backend offers odd counts on padded channels (JAX's 2-D CPU convolutions) and nothing elsewhere; the
rows it gives are what profiles store (`Strategy.odd_channel_factors`, with JSON's lists as tuples); a
profile calibrated before the probe existed takes the shipped rows. How the model prices plans by them:
tests/ops/test_even_channels.py."""

import dataclasses

import keras

from structconv.tuning import odd_channels, profile

BACKEND = keras.backend.backend()


def test_the_probe_times_odd_counts_only_where_the_backend_pads_them():
    found = odd_channels.probe(channels=(3, 5), filters=(8, 24))
    rows = found["odd_channel_factors"]
    assert found["report"] and 0 <= found["seconds"] < 60
    if BACKEND != "jax":
        assert not odd_channels.probed() and rows == () and found["report"].startswith("not probed")
        return
    assert odd_channels.probed()
    assert [row[:2] for row in rows] == [(3, 8), (3, 24), (5, 8), (5, 24)]
    assert all(0.05 < factor < 100 for row in rows for factor in row[2:])
    assert "4 pairs of channels and filters" in found["report"]


def test_a_spent_budget_stops_the_probe_after_the_first_channel_count():
    if not odd_channels.probed():
        assert odd_channels.probe(seconds=0.0, channels=(3, 5), filters=(8,))["odd_channel_factors"] == ()
        return
    rows = odd_channels.probe(seconds=0.0, channels=(3, 5), filters=(8,))["odd_channel_factors"]
    assert [row[:2] for row in rows] == [(3, 8)]


def test_the_report_counts_the_slow_pairs_and_names_the_largest_factors():
    line = odd_channels.report([(3, 24, 6.0, 1.1), (3, 8, 0.9, 1.3), (5, 24, 2.5, 0.9)])
    assert line == ("3 pairs of channels and filters; odd channels over 1.2x slower than on one zero channel "
                    "more at 2 forward (up to 6.0x) and 1 with the gradient (up to 1.3x)")
    assert odd_channels.report([]) == "no odd channel counts timed"


def test_the_rows_survive_a_profile_file_and_older_profiles_take_the_shipped_ones(fresh_cache):
    from structconv.tuning import fingerprint, storage

    shipped = profile.shipped(BACKEND, "cpu")
    rows = ((3, 24, 6.5, 1.2), (9, 48, 0.45, 1.0))
    mine = profile.with_probed(dataclasses.replace(shipped, source="calibrated"),
                               {"odd_channel_factors": rows})
    machine = fingerprint.fingerprint_id(fingerprint.fingerprint(BACKEND, "cpu"))
    path = profile.save_calibrated(mine, machine, {"machine": "test"})
    loaded = profile.calibrated(BACKEND, "cpu", machine)
    assert loaded.strategy.odd_channel_factors == rows
    assert hash(loaded.strategy)  # rows read from JSON's lists come back as tuples
    older = storage.read_json(path)
    del older["strategy"]["odd_channel_factors"]
    storage.write_json(path, older)
    profile.forget_loaded()
    assert (profile.calibrated(BACKEND, "cpu", machine).strategy.odd_channel_factors
            == shipped.strategy.odd_channel_factors)


def test_only_the_shipped_jax_profile_carries_factors():
    # Measured on the project's machine (provenance "odd_channels"); the other backends never pad.
    rows = profile.shipped(BACKEND, "cpu").strategy.odd_channel_factors
    if BACKEND == "jax":
        assert rows and "odd_channels" in dict(profile.shipped(BACKEND, "cpu").provenance)
        assert {row[0] for row in rows} == set(odd_channels.PROBE_CHANNELS)
        assert {row[1] for row in rows} == set(odd_channels.PROBE_FILTERS)
    else:
        assert rows == ()
