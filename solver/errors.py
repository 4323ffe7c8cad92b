"""Errors that end a run with one clear message (no traceback)."""


class UserError(Exception):
    """Bad input: a scenario file, a key, a value or a command-line option."""


class SolverError(Exception):
    """A solve that did not converge or produced unusable results."""
