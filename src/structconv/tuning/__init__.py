"""Tuning as data: cost-model profiles, measured plans and the calibration that fits profiles.

- `profile`: the cost model's constants and strategy tables of one backend and device class, with their
  provenance; shipped profiles live in `profiles/*.json`, calibrated ones in the user's cache directory.
- `fingerprint`: what identifies a machine for a profile or a plan file.
- `storage`: the cache directory and crash-safe JSON files (atomic writes, merged under a lock).
- `plan_file`: measured plans remembered across processes.
- `autotune`: timing candidate plans once, outside any trace.
- `calibrate`: fitting a profile for this machine (`structconv calibrate`).
"""
