"""What every benchmark records about where it ran, and how it caps the frameworks' threads.

Imported by the scripts of this folder (run as `python benchmarks/<name>.py`, so this folder is on
`sys.path`).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np


def machine():
    """The CPU model, logical CPU count, operating system and GPUs (by `nvidia-smi`, where there is one),
    as one line."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}{gpus()}"


def gpus():
    """", GPU: <names>" for the NVIDIA GPUs `nvidia-smi` lists, else ""."""
    try:
        listed = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    names = [line.rsplit(",", 1) for line in listed.splitlines() if "," in line]
    return "".join(f", GPU: {name.strip()} (driver {driver.strip()})" for name, driver in names)


def versions(names):
    """`{distribution: version}` for those of `names` that are installed."""
    import importlib.metadata as metadata

    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def to_backend(array, backend):
    """A NumPy array as a tensor of `backend` (jax, tensorflow or torch), without a Keras conversion."""
    if backend == "jax":
        import jax.numpy as jnp

        return jnp.asarray(array)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.constant(array)
    import torch

    return torch.from_numpy(np.ascontiguousarray(array))


def measure_afresh():
    """Makes measured planning in this (worker) process neither read nor write plan files, so that every run
    measures as a first process would."""
    from structconv.tuning import plan_file

    plan_file.lookup = lambda *args: None
    plan_file.record = lambda *args, **kwargs: None


def rotated(names, round_index):
    """`names` in the order of round `round_index` of interleaved timing: rotated by one each round, so that
    no callable always runs right after the same other one (after an FFT of hundreds of MiB the next call
    pays for page faults: measured, torch 4-D 20^4 k=2, "auto" running direct right after "fft" took
    1.2-1.3x the time of "direct" in every sweep of benchmarks/fft.py)."""
    shift = round_index % len(names) if names else 0
    return names[shift:] + names[:shift]


def interleaved_times(functions, rounds, warmups=2):
    """Seconds of every call of each of `functions` (a dict of callables), after `warmups` calls each,
    over `rounds` interleaved rounds in `rotated` order."""
    for fn in functions.values():
        for _ in range(warmups):
            fn()
    times = {name: [] for name in functions}
    for round_index in range(rounds):
        for name in rotated(list(functions), round_index):
            start = time.perf_counter()
            functions[name]()
            times[name].append(time.perf_counter() - start)
    return times


def budgeted_times(functions, budget, min_rounds=5, max_rounds=40):
    """`(times, rounds)`: seconds of every call of each of `functions` (a dict of callables, warmed up by
    the caller) in interleaved rounds in `rotated` order, at least `min_rounds`, then until `budget`
    seconds have passed or `max_rounds` are run."""
    times = {name: [] for name in functions}
    deadline, round_index = time.perf_counter() + budget, 0
    while round_index < min_rounds or (time.perf_counter() < deadline and round_index < max_rounds):
        for name in rotated(list(functions), round_index):
            start = time.perf_counter()
            functions[name]()
            times[name].append(time.perf_counter() - start)
        round_index += 1
    return times, round_index


def measure_interleaved(functions, rounds, warmups=2):
    """Median seconds of each of `functions` over `interleaved_times`."""
    return medians_and_minima(functions, rounds, warmups)[0]


def medians_and_minima(functions, rounds, warmups=2):
    """`({name: median}, {name: minimum})` seconds of each of `functions` over `interleaved_times`."""
    times = interleaved_times(functions, rounds, warmups)
    return ({name: statistics.median(values) for name, values in times.items()},
            {name: min(values) for name, values in times.items()})


def run_worker_process(script, name, arguments, timeout, keras_backend=None):
    """Runs `script --worker name *arguments` in its own process (`KERAS_BACKEND` is fixed per process:
    `keras_backend`, or `name`), with progress on stderr; returns the JSON records it printed, one per line
    starting with "{", and whether it succeeded (on failure the tail of its stderr is printed; what it
    printed before failing is returned)."""
    env = dict(os.environ, KERAS_BACKEND=keras_backend or name, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, os.path.abspath(script), "--worker", name, *arguments]
    print(f"running {name} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    if completed.returncode != 0:
        print(completed.stderr[-3000:], file=sys.stderr)
    else:
        print(f"  {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    records = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    return records, completed.returncode == 0


def fit_epoch_seconds(model, x, y, batch_size, epochs):
    """Seconds of each of `epochs` epochs of `model.fit(x, y, batch_size)`, one `fit` call each (the first
    includes whatever a first call costs: tracing, measured planning)."""
    seconds = []
    for _ in range(epochs):
        started = time.perf_counter()
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
        seconds.append(round(time.perf_counter() - started, 3))
    return seconds


def quick_or_full_options(description, rounds):
    """The options of a benchmark that runs a full set of cases or (`--quick`) a few, in `--rounds`
    interleaved rounds (`rounds` by default; 2 with `--quick`)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=rounds)
    options = parser.parse_args()
    if options.quick:
        options.rounds = 2
    return options


def torch_step(f, x, kernel, cotangent, training):
    """A call of `f(x, kernel, training)` on torch tensors for `measure_interleaved`: without a gradient, or
    (`training`) forward and the gradients w.r.t. `x` and `kernel` of `sum(f(...) * cotangent)`."""
    import torch

    def call():
        if not training:
            with torch.no_grad():
                return f(x, kernel, False)
        x.grad = kernel.grad = None
        (f(x, kernel, True) * cotangent).sum().backward()

    return call


def torch_modes(impls, x, kernel, cotangent, rounds):
    """`(mode, training, seconds)` for "forward" and "training": the median seconds of each of `impls`
    (`{name: f(x, kernel, training)}`) over `rounds` interleaved rounds of `torch_step`s, `x` and `kernel`
    requiring gradients in training."""
    for mode in ("forward", "training"):
        training = mode == "training"
        x.requires_grad_(training)
        kernel.requires_grad_(training)
        steps = {name: torch_step(f, x, kernel, cotangent, training) for name, f in impls.items()}
        yield mode, training, measure_interleaved(steps, rounds)
