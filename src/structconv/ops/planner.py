"""The planner: `ConvProblem` -> `Plan`, by the cost model and, where it is not clearly sure, by measuring.

The candidates are every way the backend can run the problem, each priced by the cost model
(`ops.candidate_plans`). The rules below say which may run, then `structconv.config.autotune()` which does:

- `"off"`: the cheapest by the model (reproducible, no timing);
- `"uncertain"` (default): the candidates the model cannot tell apart (`pick_contenders`: within the
  profile's `uncertainty`, at least `MIN_BAND`, of the cheapest) are timed once, on data of the problem's
  shape, in the form they run (`tuning.autotune`), and the fastest (`contenders.fastest`: a direct plan
  within `DIRECT_TIE` of a faster FFT plan) is kept, in memory and in a plan file of
  this machine, so a second process measures nothing; times measured under another `algorithm` decide
  without timing where they cover what this one would time (`contenders.reusable`);
- `"always"`: the same with no band: the cheapest of every kind of way the rules allow is timed.

Rules: under "auto", kernels of fewer than `fft_min_taps` taps run by FFT only where measuring finds it
faster, and only FFT plans the model puts within the measuring band of direct are timed for them (never
by the model alone: with autotuning off they run direct). Problems whose direct time the model puts below
the FFT's fixed overhead (`TINY_OVERHEADS`) run direct by the model alone, and where "auto" measures, by
FFT only if an FFT plan the model puts within `TINY_NEAR` of direct is timed faster. In every mode, FFT
never exceeds the memory budget, sizes unknown when traced run direct, and an overlap-save plan must be
modelled `block_margin` (a profile constant) times cheaper than the whole transform. A graph being exported
(`ConvProblem.symbolic`: torch.export, jax2tf, ONNX) runs direct even under algorithm="fft": the same
convolution, in the one form every exporter and runtime can express (ONNX has no real FFT that onnxruntime
runs, and no complex tensors).
"""

import dataclasses
import math

from structconv import config
from structconv.errors import StructconvError
from structconv.ops import candidate_plans
from structconv.ops.contenders import fastest, follow_ups, measuring_band, pick_contenders, reusable
from structconv.tuning import fingerprint as fingerprints
from structconv.tuning import half_precision, plan_file

# Problems whose direct time is modelled below this many FFT overheads never run by FFT: by the model alone
# (autotune "off"), and where "auto" measures, below one (no FFT plan is modelled cheaper than its overhead):
# at two, a torch 3-D 15^3 k=6 one-channel convolution, direct modelled at 411 us and the FFT's overhead at
# 268, was kept direct untimed, 0.59 ms against 0.36 by FFT (1 thread of an AVX-512 AMD EPYC).
TINY_OVERHEADS = 2.0
TINY_OVERHEADS_MEASURED = 1.0
# ... except, where "auto" measures, FFT plans the model itself puts within this factor of direct's time: the
# overhead is a fitted constant, and at a sub-millisecond problem a fit over the whole grid can place it above
# the FFT plan's real time. TensorFlow's 2-D 41x22 k=7x2 1 -> 1 batch-4 strided and dilated convolution:
# direct modelled at 278 us, under the fitted overhead of 292, and the FFT at 335; run direct untimed at 0.32
# ms, where FFT took 0.26 (1.26x; 2-vCPU Intel Xeon, session 41).
TINY_NEAR = 1.5

_plans = {}
_measured_without_batch = {}
# Times measured in this process per problem, under any algorithm (`contenders.reusable`).
_measured_times = {}
_generation = [0]


def clear_plans():
    """Forgets every plan and measured time in memory (after a calibration, or in tests; the
    half-precision probes too); plan files stay. Layers drop the plans they keep too (`generation`)."""
    half_precision.forget()
    _plans.clear()
    _measured_without_batch.clear()
    _measured_times.clear()
    _generation[0] += 1


def settings_key():
    """What a plan depends on beyond its problem and algorithm: the memory budget, the autotuning mode and
    the planner's generation (bumped by `clear_plans`)."""
    return config.fft_memory_budget(), config.autotune(), _generation[0]


def machine_id(problem):
    return fingerprints.fingerprint_id(fingerprints.fingerprint(problem.backend, problem.device))


def allowed(problem, plans, algorithm, profile, budget, mode="uncertain"):
    """The candidates `algorithm` and the rules allow, cheapest by the model first (unless `mode` is
    "always", problems the model calls tiny run direct, or where it measures by an FFT plan it times only if
    the model puts one within `TINY_NEAR` of direct)."""
    direct = [p for p in plans if p.algorithm == "direct"]
    ffts = [p for p in plans if p.algorithm == "fft"]
    if algorithm == "direct":
        return direct
    if algorithm == "fft":
        if problem.symbolic:  # an exported graph: exporters cannot all express FFTs (module docstring)
            return direct
        if not problem.static:
            raise StructconvError(
                "Invalid `algorithm`: received 'fft'. Expected 'direct' or 'auto' for inputs of spatial "
                "sizes unknown when traced.")
        within = [p for p in ffts if p.fft.memory <= budget]
        if not within:
            smallest = min(ffts, key=lambda p: p.fft.memory).fft
            raise StructconvError(
                f"algorithm='fft' needs an estimated {smallest.memory / 2**20:.1f} MiB of working memory "
                f"(FFT lengths {smallest.lengths}), over the budget of {budget / 2**20:.1f} MiB. Use "
                "algorithm='direct' or 'auto', or raise the budget with "
                "structconv.config.set_fft_memory_budget().")
        return within
    # Few taps: measured only, within the band (not `contenders.WIDE_BAND`): XLA's 3x3 convolution of 12 ->
    # 2 channels ran 2.28 ms against 0.84 by FFT, TensorFlow's dilated 3x2 one without oneDNN 0.62 against
    # 0.28, a 5-tap 1-D JAX training step 2.12 against 1.50, each FFT modelled 1.6-3.6x direct's time; at
    # 95 of 100 such shapes on the three backends direct was within 1.15x of FFT, and up to 33x faster
    # (`benchmarks/auto_vs_forced.py --varied --small-kernels`, AVX-512 AMD EPYC, 2 threads).
    few_taps = problem.taps < profile.strategy.fft_min_taps
    if few_taps and mode == "off":
        return direct
    # A profile fitted elsewhere can be 10x off (issue 13: a "tiny" 4.5 ms convolution FFT ran in 3.5):
    # the rule trusts the model only where it is calibrated to within 3x, or alone.
    trusted = mode == "off" or profile.uncertainty <= 3.0
    overheads = TINY_OVERHEADS if mode == "off" else TINY_OVERHEADS_MEASURED
    cheapest_direct = min(p.modelled_us for p in direct)
    tiny = mode != "always" and trusted and cheapest_direct < overheads * profile.costs.fft_overhead_us
    near = math.inf  # how dear an FFT plan may be modelled and still run
    if tiny:
        near = 0.0 if mode == "off" else TINY_NEAR * cheapest_direct
    permitted = direct + [p for p in ffts if p.fft.memory <= budget and p.modelled_us <= near]
    if few_taps:
        within = measuring_band(profile, mode) * cheapest_direct
        permitted = [p for p in permitted if p.algorithm == "direct" or p.modelled_us <= within]
    return sorted(permitted, key=lambda plan: plan.modelled_us)


def plan_conv(problem, algorithm="auto"):
    """The plan for `problem` under `algorithm` ("auto", "direct" or "fft"); cached per problem."""
    budget, mode, generation = settings_key()
    key = (problem, algorithm, budget, mode, generation)
    plan = _plans.get(key)
    if plan is None:
        plan = _plan(problem, algorithm, budget, mode)
        _plans[key] = plan
    return plan


def _plan(problem, algorithm, budget, mode):
    profile = candidate_plans.profile_for(problem.backend, problem.device)
    plans = candidate_plans.candidates(problem, profile)
    permitted = allowed(problem, plans, algorithm, profile, budget, mode)
    best = permitted[0]
    if problem.device == "meta":  # shape inference: nothing runs, nothing to measure
        mode = "off"
    if len(permitted) == 1 or mode == "off":
        source = "rule" if len(permitted) == 1 else profile.source + " profile"
        return dataclasses.replace(best, source=source)
    band = measuring_band(profile, mode)
    contenders = pick_contenders(permitted, band)
    if len(contenders) == 1:
        return dataclasses.replace(best, source=profile.source + " profile")
    if not isinstance(problem.batch, int):
        # A trace with an unknown batch (a last partial batch, a generalised tf.function): the choice
        # measured for the same problem at a known batch, else the model.
        label = _measured_without_batch.get((problem.without_batch(), algorithm))
        # The same variant; packing pairs of batch items needs an even batch known when traced.
        chosen = [p for p in permitted if label and p.label.replace(":packed", ":planes")
                  == label.replace(":packed", ":planes")]
        return dataclasses.replace(chosen[0] if chosen else best, source="measured" if chosen else
                                   profile.source + " profile")
    machine = machine_id(problem)
    remembered = plan_file.lookup(problem, machine, algorithm)
    if remembered is not None:
        chosen = [p for p in permitted if p.label == remembered["label"]]
        if chosen:
            _measured_without_batch[(problem.without_batch(), algorithm)] = chosen[0].label
            return dataclasses.replace(chosen[0], source="plan file",
                                       measured_us=tuple(sorted(remembered.get("times_us", {}).items())))
    in_process = _measured_times.get(problem, {})
    known = {**plan_file.remembered_times(problem, machine), **in_process}
    shared = reusable(permitted, contenders, known, band)
    if shared is not None:  # another algorithm's timing covers this one's (`contenders.reusable`)
        return _keep(problem, machine, algorithm, shared, known,
                     "measured" if shared.label in in_process else "plan file")
    from structconv.tuning import autotune

    if problem.half_precision:  # its own dtype priced as measured here (`ops.working_precision`)
        plans = candidate_plans.candidates(problem, profile, half_precision.slowdown(problem))
        permitted = allowed(problem, plans, algorithm, profile, budget, mode)
        contenders = pick_contenders(permitted, band)
    times = autotune.measure(problem, contenders, lambda times: follow_ups(permitted, times, band))
    # The contenders and the follow-ups `measure` timed after them: any may win.
    timed = [p for p in permitted if times.get(p.label) is not None]
    if not timed:  # every candidate failed to run outside the trace: the model
        return dataclasses.replace(best, source=profile.source + " profile")
    chosen = fastest(timed, times)  # a direct plan within `contenders.DIRECT_TIE` of FFT
    measured = {label: round(us, 1) for label, us in times.items() if us is not None}
    _measured_times[problem] = {**in_process, **measured}
    return _keep(problem, machine, algorithm, chosen, measured, "measured")


def _keep(problem, machine, algorithm, plan, times, source):
    """`plan`, measured fastest of `problem` under `algorithm` by `times`, remembered in the plan file and
    for a trace of the problem with an unknown batch."""
    plan_file.record(problem, machine, plan.label, dict(times), algorithm)
    _measured_without_batch[(problem.without_batch(), algorithm)] = plan.label
    return dataclasses.replace(plan, source=source, measured_us=tuple(sorted(times.items())))
