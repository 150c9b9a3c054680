"""Errors a user can act on. Each message names the file, column, row, key or parameter."""


class WorkbenchError(Exception):
    """Base of every error the CLI reports as a one-line message instead of a traceback."""
