"""Campaign target lists: selection, suppression, control group, masking, files, export log and
responses loaded back (see :mod:`workbench.targets.export` and :mod:`workbench.targets.responses`);
campaigns with owners and waves (:mod:`workbench.targets.campaigns`), each export one transaction
(:mod:`workbench.targets.transaction`).
"""

from workbench.targets.errors import TargetError

__all__ = ["TargetError"]
