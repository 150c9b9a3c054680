"""DWD: cleaned facts and conformed dimensions."""

from __future__ import annotations
