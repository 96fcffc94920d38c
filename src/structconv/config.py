"""Global settings of structconv.

- The FFT memory budget: the most working memory (input, kernel and output spectra plus the padded real
  tensors) that one FFT convolution may use. `algorithm="auto"` never picks FFT above it, and
  `algorithm="fft"` raises a `StructconvError` naming the estimate instead of running out of memory.
  Default 2 GiB, or the environment variable `STRUCTCONV_FFT_MEMORY_BUDGET` (bytes) when set.
"""

import os

from structconv.errors import invalid_argument

_DEFAULT_FFT_MEMORY_BUDGET = 2 * 1024**3
_settings = {
    "fft_memory_budget": int(os.environ.get("STRUCTCONV_FFT_MEMORY_BUDGET", _DEFAULT_FFT_MEMORY_BUDGET))
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
