"""What identifies a machine for a calibrated profile or a plan file: CPU model, threads in use, GPU name,
backend and its version. Two machines with the same fingerprint are expected to time the same."""

import functools
import hashlib
import json
import os
import platform


@functools.cache
def cpu_model():
    """The CPU's model name (from /proc/cpuinfo on Linux), else what `platform` says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def fingerprint(backend_name, device="cpu"):
    """The fingerprint of this machine for `backend_name` on `device`, as a dict of strings and ints."""
    from structconv._backend import get_backend

    backend = get_backend()
    return {
        "backend": backend_name,
        "backend_version": backend.framework_version(),
        "device": device,
        "cpu": cpu_model(),
        "threads": int(backend.thread_count()),
        "cores": os.cpu_count() or 1,
        "accelerator": backend.accelerator_name(device),
    }


def fingerprint_id(print_):
    """A short stable name for a fingerprint (file names)."""
    text = json.dumps(print_, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]
