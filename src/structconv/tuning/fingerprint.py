"""What identifies a machine for a calibrated profile or a plan file: CPU model, its family and model
numbers and vector extensions, threads in use, GPU name, backend, its version and the kernels it runs
convolutions with. Two machines with the same fingerprint are expected to time the same.

The CPU's model name alone does not tell machines apart: cloud VMs name both an AMD EPYC with AVX-512 and
one without it "AMD EPYC", and the extensions decide which kernels run (TensorFlow turns oneDNN on by
default only with some of them); nor does it tell CPU generations apart: the 2-vCPU Intel VMs of sessions
36-43 (family 6 model 167) and of session 44 (model 207) both name theirs "Intel(R) Xeon(R) Processor",
with the same extensions, and a profile calibrated on one was never measured on the other."""

import functools
import hashlib
import json
import os
import platform


@functools.cache
def _first_processor():
    """The first processor's fields in /proc/cpuinfo, names in lower case ({} where it is missing: another
    OS)."""
    fields = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key:
                    fields.setdefault(key, value.strip())
                elif fields:
                    break  # the first processor's block ends
    except OSError:
        pass
    return fields


def cpu_model():
    """The CPU's model name (from /proc/cpuinfo on Linux), else what `platform` says."""
    return _first_processor().get("model name") or platform.processor() or platform.machine() or "unknown"


# The /proc/cpuinfo fields that number a CPU's generation: x86's family, model and stepping; ARM's
# implementer, part and variant.
_IDENTITY_FIELDS = ("cpu family", "model", "stepping", "cpu implementer", "cpu part", "cpu variant")


def cpu_identity():
    """The CPU's generation numbers from /proc/cpuinfo, e.g. "cpu family 6, model 207, stepping 2" ("" where
    /proc/cpuinfo is missing)."""
    fields = _first_processor()
    return ", ".join(f"{key} {fields[key]}" for key in _IDENTITY_FIELDS if key in fields)


# The vector extensions that change which convolution and FFT kernels run, as /proc/cpuinfo names them.
_VECTOR_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile")


def cpu_extensions():
    """The CPU's vector extensions among `_VECTOR_FLAGS`, joined by "+" ("" where /proc/cpuinfo is
    missing: another OS, whose model name then identifies the CPU alone)."""
    present = set(_first_processor().get("flags", "").split())
    return "+".join(flag for flag in _VECTOR_FLAGS if flag in present)


def fingerprint(backend_name, device="cpu"):
    """The fingerprint of this machine for `backend_name` on `device`, as a dict of strings and ints."""
    from structconv._backend import get_backend

    backend = get_backend()
    return {
        "backend": backend_name,
        "backend_version": backend.framework_version(),
        "device": device,
        "cpu": cpu_model(),
        "cpu_identity": cpu_identity(),
        "cpu_extensions": cpu_extensions(),
        "kernels": backend.kernel_library(device),
        "threads": int(backend.thread_count()),
        "cores": os.cpu_count() or 1,
        "accelerator": backend.accelerator_name(device),
    }


def fingerprint_id(print_):
    """A short stable name for a fingerprint (file names)."""
    text = json.dumps(print_, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]
