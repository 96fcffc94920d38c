"""`structconv demo`: runs one scenario per user story and writes REPORT.md with figures.

Importing this package imports no Keras backend; the scenarios import Keras when they run. See
`structconv.demo.runner` for the list of scenarios and `structconv.demo.context` for what a
scenario gets and returns.
"""

from structconv.demo.runner import SCENARIOS, run_demo

__all__ = ["SCENARIOS", "run_demo"]
