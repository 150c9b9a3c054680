"""``workbench lab``: JupyterLab on the project for analysts.

The server runs at the project root on 127.0.0.1 with Jupyter's own token authentication, and its
default kernel is the project's: a kernel spec named for the workbench whose environment carries
``WORKBENCH_CONFIG``, so ``workbench.table()``, ``workbench.read_mart()``, ``%%sql`` and the
report helpers find the project from any folder a notebook sits in. The spec is written into the
project (``.workbench/jupyter/kernels/``), not into the shared Python environment, so two projects
on one machine keep their own; the server finds it through ``JUPYTER_PATH``.
"""

from __future__ import annotations

import json
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

KERNEL_NAME = "telecom-workbench"
KERNEL_DISPLAY_NAME = "Telecom workbench (Python)"
#: the notebook the lab opens on, relative to the project root
START_NOTEBOOK = Path("notebooks/explore/getting_started.ipynb")


@dataclass(frozen=True)
class LabLaunch:
    """What starting the lab takes: the command, its environment additions and the URL."""

    command: list[str]
    env: dict[str, str]
    url: str


def jupyter_dir(root: Path) -> Path:
    """The project's Jupyter data folder (holds the kernel spec)."""
    return root / ".workbench" / "jupyter"


def write_kernel_spec(root: Path, config: Path, python: str = sys.executable) -> Path:
    """Write (or refresh) the project's kernel spec; returns its folder."""
    from workbench.config import CONFIG_ENV

    folder = jupyter_dir(root) / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    spec = {
        # frozen modules off, as ipykernel's own spec: else the debugger warns in every kernel
        "argv": [
            python,
            "-Xfrozen_modules=off",
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
        ],
        "display_name": KERNEL_DISPLAY_NAME,
        "language": "python",
        "env": {CONFIG_ENV: str(config)},
        "metadata": {"debugger": True},
    }
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
    return folder


def lab_launch(
    root: Path, config: Path, port: int, token: str | None = None, open_browser: bool = False
) -> LabLaunch:
    """The JupyterLab command for the project (the kernel spec is written first).

    ``port_retries=0``: on a busy port the server stops with an error instead of moving to
    another port than the URL printed.
    """
    import os

    from workbench.config import CONFIG_ENV

    token = token or secrets.token_hex(24)
    write_kernel_spec(root, config)
    start = START_NOTEBOOK.as_posix() if (root / START_NOTEBOOK).is_file() else ""
    default_url = f"/lab/tree/{start}" if start else "/lab"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        f"--ServerApp.open_browser={open_browser}",
        f"--MappingKernelManager.default_kernel_name={KERNEL_NAME}",
        f"--LabApp.default_url={default_url}",
        # no news feed and no update check: an operator's analysts often have no internet, and
        # the lab should not reach out to it
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Containers often run as root, which Jupyter refuses unless told; the server still
        # listens on 127.0.0.1 only and asks for the token.
        command.append("--ServerApp.allow_root=True")
    paths = [str(jupyter_dir(root)), *filter(None, os.environ.get("JUPYTER_PATH", "").split(":"))]
    # the token in the environment, not the command line, which other users of the machine
    # can read (`ps`)
    env = {"JUPYTER_PATH": ":".join(paths), CONFIG_ENV: str(config), "JUPYTER_TOKEN": token}
    return LabLaunch(command, env, f"http://127.0.0.1:{port}{default_url}?token={token}")
