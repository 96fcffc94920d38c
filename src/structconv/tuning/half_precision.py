"""How much longer the backend's convolution takes in float16 or bfloat16 than widened to float32, here.

The calibrated rates are float32's; a half-precision problem's direct plans come in its own dtype and widened
to float32 (`ops.working_precision`). How the two compare is the machine's, and far apart: on a 2-vCPU AMD
EPYC without AVX-512, torch's CPU convolution in bfloat16 ran 8-45x longer than widened at most shapes and
1024x at one (1-D 35406 samples, k=240, 8 -> 8, batch 4: 9.3 s a call against 61 ms), XLA's 1.0-1.4x,
TensorFlow's 1.0-29x. Priced at 1.5x (the model alone's guess), the slow way stayed within the measuring band,
and timing it took up to 21 s of a 10-shape sweep's planning. So where "auto" is about to measure a
half-precision problem, `slowdown` times one convolution (`PROBES`, of the problem's rank up to 3, by
`autotune.measure`, in the form it runs) in the dtype and widened, once per process, backend, device, dtype
and rank (the ratio moves with the rank: torch's 3-D convolution 8.7x at the 2-D probe, 76x at a 3-D 24^3 k=3
8 -> 8 one); the planner prices the problem's own-dtype plans at that ratio, which leaves the slow way out of
the band where it is slow and in it where it is not. A second process that finds its plans in the plan file
probes nothing.
"""

import dataclasses

from structconv.ops import candidate_plans
from structconv.ops.plan import Plan
from structconv.tuning.square_problem import square_problem

# Per rank 1, 2, 3 (higher ranks run decomposed onto these): size, kernel size, batch, channels, filters,
# each 0.06-0.11 Gflop, about a millisecond in float32 here.
PROBES = ((4096, 15, 2, 16, 16), (64, 5, 2, 16, 16), (16, 3, 2, 16, 16))
_slowdowns = {}


def slowdown(problem):
    """The time of the probe of `problem`'s rank (`PROBES`) in its dtype over its time widened to
    float32, by the backend's cheapest direct way of that rank by the model, on `problem`'s device;
    measured on the first call for each backend, device, dtype and rank up to 3 (None where either failed
    to run)."""
    from structconv.tuning import autotune

    rank = min(problem.rank, len(PROBES))
    key = (problem.backend, problem.device, problem.dtype, rank)
    if key not in _slowdowns:
        probe = square_problem(problem.backend, problem.device, rank, *PROBES[rank - 1], dtype=problem.dtype)
        # The backend's way of the rank (TensorFlow and JAX decompose 3-D onto 2-D on a CPU).
        own = next(p for p in candidate_plans.candidates(probe) if p.algorithm == "direct"
                   and p.working_dtype is None)
        own = Plan("direct", direct=own.direct, onto=own.onto)
        widened = dataclasses.replace(own, working_dtype="float32")
        times = autotune.measure(probe, [own, widened])
        found = times.get(own.label), times.get(widened.label)
        _slowdowns[key] = found[0] / found[1] if all(found) else None
    return _slowdowns[key]


def forget():
    """Forgets the probes measured in this process (tests)."""
    _slowdowns.clear()
