#!/usr/bin/env python3
"""Entry point: ``[mpirun -n N] python run.py COMMAND ...``; see ``python run.py --help``."""

import sys

from solver.cli import main

if __name__ == "__main__":
    sys.exit(main())
