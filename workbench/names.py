"""Names that end up in file paths: region ids, report and schedule names, campaign ids.

One rule for all of them, so a value accepted in one place is safe in every other: the whole value
must match (``re.fullmatch``: a pattern anchored with ``^...$`` and ``re.match`` would accept a
trailing newline), and ``.`` or ``..`` is refused outright because each is a valid string of the
allowed characters but, as a path component, names the folder itself or its parent.
"""

from __future__ import annotations

import re

#: letters, digits, ``_``, ``-`` and ``.`` (ids such as ``GZ``, ``ALL`` or ``online_app``)
IDENTIFIER = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
#: the path components that name a folder's self or parent
RELATIVE_COMPONENTS = frozenset({".", ".."})


def is_path_component(value: object, pattern: re.Pattern[str] = IDENTIFIER) -> bool:
    """Whether ``value`` is a string ``pattern`` fully matches and is not ``.`` or ``..``."""
    return (
        isinstance(value, str)
        and pattern.fullmatch(value) is not None
        and value not in RELATIVE_COMPONENTS
    )


def is_identifier(value: object) -> bool:
    """An :data:`IDENTIFIER` usable as one path component (see :func:`is_path_component`)."""
    return is_path_component(value, IDENTIFIER)
