"""The YAML files of named entries under ``pipelines/`` (schedules, subscriptions): read,
validate each entry with its model, and name the file, entry and key in every error."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ValidationError

from workbench.config import ConfigError
from workbench.names import is_identifier

M = TypeVar("M", bound=BaseModel)


def _check_name(value: str) -> str:
    if not is_identifier(value):
        raise ValueError("must be letters, digits, _ - . (at most 64 characters), not . or ..")
    return value


#: an entry's name: it becomes part of file names and ledger records
EntryName = Annotated[str, AfterValidator(_check_name)]


def named_entries(
    path: Path, key: str, model: type[M], error: type[ConfigError], *, missing_ok: bool = False
) -> list[tuple[str, M]]:
    """Each entry of the top-level list ``key`` as ``model``, with its label for errors
    (``<path>: key[3] (name)``); names are unique.

    Args:
        missing_ok: a missing file holds no entries (else it is an error).

    Raises:
        error: naming the file, the entry and the key at fault.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        if missing_ok:
            return []
        raise error(f"{key} file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise error(f"{path} is not valid YAML: {exc}") from None
    entries = raw.get(key) if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise error(f"{path}: expected a top-level '{key}:' list")
    found: list[tuple[str, M]] = []
    for number, entry in enumerate(entries):
        label = f"{path}: {key}[{number}]"
        if isinstance(entry, dict) and entry.get("name"):
            label += f" ({entry['name']})"
        try:
            item = model.model_validate(entry)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(entry)"
            message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
            raise error(f"{label}.{where}: {message.removeprefix('Value error, ')}") from None
        name = getattr(item, "name", None)
        if any(getattr(other, "name", None) == name for _, other in found):
            raise error(f"{label}.name: {name!r} is used twice")
        found.append((label, item))
    return found
