"""`python -m structconv`: the same command line as the `structconv` script."""

import sys

from structconv.cli import main

if __name__ == "__main__":  # not when a tool (pytest's doctest collection) imports the module
    sys.exit(main())
