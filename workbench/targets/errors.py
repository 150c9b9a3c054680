"""Errors of the target-list loop."""

from workbench.errors import WorkbenchError


class TargetError(WorkbenchError):
    """A target export or a responses load cannot proceed; the message names what is wrong."""
