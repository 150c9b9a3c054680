"""``workbench lab`` starts a real JupyterLab on 127.0.0.1: the project's kernel is its default
and carries the project's configuration, and the server refuses anyone without the token."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.dashboards.conftest import free_port
from workbench.lab import KERNEL_NAME, START_NOTEBOOK


def _get(url: str, token: str | None = None, method: str = "GET", body: dict | None = None):
    request = urllib.request.Request(url, method=method)
    if token:
        request.add_header("Authorization", f"token {token}")
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(request, data=data, timeout=10) as response:
        text = response.read()
        return response.status, json.loads(text) if text else None


@pytest.fixture(scope="module")
def lab(tiny_project):
    config = tiny_project.root / "pipelines" / "config.yml"
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench.cli",
            "--config",
            str(config),
            "lab",
            "--port",
            str(port),
        ],
        cwd=tiny_project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "WORKBENCH_CONFIG"},
    )
    try:
        lines = [process.stdout.readline() for _ in range(2)]
        url = next(line.split("open: ", 1)[1].strip() for line in lines if "open: " in line)
        base, token = url.split("/lab", 1)[0], url.rsplit("token=", 1)[1]
        deadline = time.monotonic() + 90
        while True:
            try:
                _get(f"{base}/api/status", token)
                break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, "the lab stopped"
                assert time.monotonic() < deadline, "the lab did not answer in 90 s"
                time.sleep(0.5)
        yield base, token, url, config
    finally:
        process.send_signal(signal.SIGTERM)  # the server shuts its kernels down
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_lab_offers_the_workbench_kernel_with_the_project(lab):
    base, token, url, config = lab
    assert url.startswith("http://127.0.0.1:")
    status, specs = _get(f"{base}/api/kernelspecs", token)
    assert status == 200 and specs["default"] == KERNEL_NAME
    spec = specs["kernelspecs"][KERNEL_NAME]["spec"]
    assert spec["env"]["WORKBENCH_CONFIG"] == str(config.resolve())
    assert spec["argv"][0] == sys.executable
    # a kernel of it starts (and is shut down again)
    status, kernel = _get(f"{base}/api/kernels", token, "POST", {"name": KERNEL_NAME})
    assert status == 201 and kernel["name"] == KERNEL_NAME
    assert _get(f"{base}/api/kernels/{kernel['id']}", token, "DELETE")[0] == 204


def test_the_lab_refuses_without_the_token(lab):
    base, token, _, _ = lab
    for wrong in (None, token[::-1]):
        with pytest.raises(urllib.error.HTTPError) as refused:
            _get(f"{base}/api/kernelspecs", wrong)
        assert refused.value.code == 403


def test_the_demo_summary_says_how_to_open_the_lab_and_the_dictionary(tiny_project):
    from workbench.cli.demo import _print_locations
    from workbench.log import console

    dictionary = tiny_project.reports_dir / "dictionary" / "index.html"
    manifest = {"subscribers": 10, "months": ["2026-01"]}
    with console.capture() as captured:
        _print_locations(tiny_project, manifest, {}, dictionary)
    text = captured.get()
    assert "workbench lab" in text and str(START_NOTEBOOK) in text
    assert str(dictionary) in text and "workbench docs --serve" in text
