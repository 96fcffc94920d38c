"""Global settings of structconv.

- The FFT memory budget: the most working memory (input, kernel and output spectra plus the padded real
  tensors) that one FFT convolution may use. `algorithm="auto"` never picks FFT above it, and
  `algorithm="fft"` raises a `StructconvError` naming the estimate instead of running out of memory.
  Default 2 GiB, or the environment variable `STRUCTCONV_FFT_MEMORY_BUDGET` (bytes) when set.
- Autotuning (`ops.planner`): whether `algorithm="auto"` times candidate plans: `"uncertain"` (default:
  where the cost model is not clearly sure), `"always"`, or `"off"` (the model alone, reproducible). Set
  with `set_autotune` or the environment variable `STRUCTCONV_AUTOTUNE`.
"""

import os

from structconv.errors import invalid_argument

_DEFAULT_FFT_MEMORY_BUDGET = 2 * 1024**3
AUTOTUNE_MODES = ("off", "uncertain", "always")


def _autotune_from_environment():
    value = os.environ.get("STRUCTCONV_AUTOTUNE", "uncertain").strip().lower()
    if value not in AUTOTUNE_MODES:
        raise invalid_argument("STRUCTCONV_AUTOTUNE", value, " or ".join(repr(m) for m in AUTOTUNE_MODES))
    return value


_settings = {
    "fft_memory_budget": int(os.environ.get("STRUCTCONV_FFT_MEMORY_BUDGET", _DEFAULT_FFT_MEMORY_BUDGET)),
    "autotune": _autotune_from_environment(),
}


def fft_memory_budget():
    """The FFT working-memory budget in bytes.

    >>> fft_memory_budget() > 0
    True
    """
    return _settings["fft_memory_budget"]


def set_fft_memory_budget(num_bytes):
    """Sets the FFT working-memory budget in bytes (an int > 0)."""
    if not isinstance(num_bytes, int) or isinstance(num_bytes, bool) or num_bytes <= 0:
        raise invalid_argument("num_bytes", num_bytes, "an int > 0 (bytes)")
    _settings["fft_memory_budget"] = num_bytes


def autotune():
    """The autotuning mode: `"off"`, `"uncertain"` or `"always"`.

    >>> autotune() in AUTOTUNE_MODES
    True
    """
    return _settings["autotune"]


def set_autotune(mode):
    """Sets the autotuning mode of `algorithm="auto"`: `"off"` (the cost model alone), `"uncertain"`
    (time the candidates the model cannot tell apart) or `"always"` (time every allowed kind of way)."""
    if not isinstance(mode, str) or mode.lower() not in AUTOTUNE_MODES:
        raise invalid_argument("mode", mode, " or ".join(repr(m) for m in AUTOTUNE_MODES))
    _settings["autotune"] = mode.lower()
