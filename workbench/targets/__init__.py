"""Campaign target lists: selection, suppression, control group, masking, files, export log and
responses loaded back (see :mod:`workbench.targets.export` and :mod:`workbench.targets.responses`).
"""

from workbench.targets.errors import TargetError

__all__ = ["TargetError"]
