"""Runs the demo scenarios in order and writes REPORT.md into the output folder.

A scenario is a module `structconv.demo.<name>` with a `run(context)` function returning a
`structconv.demo.context.Section`. Adding one is writing that module and adding its name to
`SCENARIOS`.
"""

import importlib
import platform
import time
import traceback
from pathlib import Path

from structconv.demo.context import DemoContext, Section

# Module names, run in this order, by user story (../shared/USER_STORIES.md): 1 phase-only optics, 1-2
# constrained (zero-sum, joint-norm) filters, 3 masked connectivity, 4 N-dimensional convolution and the
# FFT choice for large kernels, 5 shapes explained and a fully convolutional classifier.
SCENARIOS = (
    "phase_only_optics",
    "zero_sum_filters",
    "masked_connectivity",
    "space_time",
    "space_time_unet",
    "large_kernel",
    "shape_explainer",
    "diffractive_network",  # story 1 continued: phase masks and free-space propagation (issue 17)
)


def run_demo(output="structconv-demo", *, quick=False, scenarios=SCENARIOS, seed=0):
    """Runs `scenarios`, writes `output/REPORT.md` and the figures, and returns the exit code.

    The Keras backend is the one Keras loads (`KERAS_BACKEND`); a failing scenario is reported in
    REPORT.md with its traceback, the others still run, and the exit code is 1.
    """
    import keras

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    context = DemoContext(output=output, quick=quick, backend=keras.backend.backend(), seed=seed)
    mode = "quick" if quick else "full"
    context.log(f"structconv demo ({mode}) on Keras {keras.__version__}, backend {context.backend}")
    start = time.perf_counter()
    sections = []
    for number, name in enumerate(scenarios, 1):
        context.log(f"\n=== [{number}/{len(scenarios)}] {name}")
        context.timings = []
        scenario_start = time.perf_counter()
        try:
            section = importlib.import_module(f"structconv.demo.{name}").run(context)
        except Exception:
            trace = traceback.format_exc()
            context.log(trace)
            section = Section(title=name, summary="**This scenario failed.**", failed=True)
            section.notes.append(f"```\n{trace}```")
        section.timings = context.timings + [("total", time.perf_counter() - scenario_start)]
        sections.append(section)
    elapsed = time.perf_counter() - start
    report = output / "REPORT.md"
    report.write_text(render_report(sections, context, mode, elapsed))
    failed = [section.title for section in sections if section.failed]
    context.log(f"\nWrote {report} ({elapsed:.1f} s in all).")
    if failed:
        context.log(f"Failed: {', '.join(failed)}")
        return 1
    return 0


def render_report(sections, context, mode, elapsed):
    """REPORT.md: a header with the environment, then one section per scenario."""
    import keras

    from structconv import __version__

    lines = [
        "# structconv demo report",
        "",
        f"- structconv {__version__}, Keras {keras.__version__}, backend **{context.backend}**",
        f"- mode: {mode}; Python {platform.python_version()} on {platform.machine()}",
        f"- generated {time.strftime('%Y-%m-%d %H:%M:%S')}; total time {elapsed:.1f} s",
        "",
    ]
    for section in sections:
        lines += [f"## {section.title}", "", section.summary, ""]
        if section.results:
            lines += ["| result | value |", "|---|---|"]
            lines += [f"| {name} | {value} |" for name, value in section.results]
            lines.append("")
        for caption, file_name in section.figures:
            lines += [f"**{caption}**", "", f"![{caption}]({file_name})", ""]
        for note in section.notes:
            lines += [note, ""]
        if section.timings:
            lines += ["| step | seconds |", "|---|---|"]
            lines += [f"| {name} | {seconds:.1f} |" for name, seconds in section.timings]
            lines.append("")
    return "\n".join(lines)
