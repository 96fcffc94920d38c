"""What a demo scenario receives (`DemoContext`) and what it returns (`Section`).

A scenario is a module of `structconv.demo` with a `run(context)` function that returns a
`Section`: the numbers it measured and the figures it wrote, which the runner puts into REPORT.md.
"""

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Section:
    """One scenario's part of REPORT.md."""

    title: str
    summary: str
    # (name, value) rows of the results table, values already formatted.
    results: list = field(default_factory=list)
    # (caption, file name inside the output folder).
    figures: list = field(default_factory=list)
    # Free Markdown paragraphs placed after the table.
    notes: list = field(default_factory=list)
    # (step name, seconds), filled by `DemoContext.step`.
    timings: list = field(default_factory=list)
    failed: bool = False

    def add_result(self, name, value):
        self.results.append((name, value))


@dataclass
class DemoContext:
    """Settings shared by all scenarios, and helpers to report progress and time steps."""

    output: Path
    quick: bool
    backend: str
    seed: int = 0
    timings: list = field(default_factory=list)

    def path(self, name):
        """Path of file `name` inside the output folder."""
        return self.output / name

    def log(self, message):
        print(message, flush=True)

    @contextlib.contextmanager
    def step(self, name):
        """Prints a progress header for `name`, and records how long the block took."""
        self.log(f"--- {name}")
        start = time.perf_counter()
        yield
        seconds = time.perf_counter() - start
        self.timings.append((name, seconds))
        self.log(f"    ({seconds:.1f} s)")
