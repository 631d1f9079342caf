"""One JupyterLab server and one headless Chromium for every browser test (``make browser``; ``make test`` runs it
when Chromium is installed).

The server runs on a free loopback port with a random token, on a copy of ``notebooks/`` (running cells in JupyterLab
autosaves, and the repository's notebooks must not change), with the project's ``jupyter_config/`` on
``JUPYTER_CONFIG_PATH`` as ``make lab`` has it (no announcement pop-ups) and ``expose_app_in_browser`` so a test can ask JupyterLab's own command registry to run all
cells and read the cell models; live plots are unpaced (``KAFKALAB_PACING=off`` unless set otherwise). Chromium is Debian's (``/usr/bin/chromium``, or ``KAFKALAB_CHROMIUM``), driven through
the ``playwright`` package with ``executable_path``; nothing is downloaded. Without Chromium or without
``KAFKALAB_BROWSER_TESTS=1`` every test here is skipped with the reason.
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(__file__).resolve().parent / "output"
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    explicit = os.environ.get("KAFKALAB_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def pytest_collection_modifyitems(config, items):
    reason = None
    if os.environ.get("KAFKALAB_BROWSER_TESTS") != "1":
        reason = "browser tests run with KAFKALAB_BROWSER_TESTS=1 (make browser)"
    elif chromium_path() is None:
        reason = "Chromium not found (apt-get install chromium, or set KAFKALAB_CHROMIUM)"
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed (pip install -e '.[dev]')"
    if reason:
        skip = pytest.mark.skip(reason=reason)
        for item in items:
            if "browser" in str(item.fspath):
                item.add_marker(skip)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Lab:
    """A running JupyterLab: ``url(path)`` gives a tokenised URL."""

    def __init__(self, port: int, token: str, root: Path, process: subprocess.Popen[bytes]) -> None:
        self.port, self.token, self.root, self.process = port, token, root, process

    def url(self, path: str = "lab", query: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{path}?{query + '&' if query else ''}token={self.token}"


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        shutil.copy(nb, root / nb.name)
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "JUPYTER_RUNTIME_DIR": str(root / ".runtime"), "JUPYTER_CONFIG_PATH": str(ROOT / "jupyter_config"),
           # a fresh workspace and settings: no tab restored from an earlier session, no consent remembered
           "JUPYTERLAB_WORKSPACES_DIR": str(root / ".workspaces"), "JUPYTERLAB_SETTINGS_DIR": str(root / ".settings"),
           # live plots unpaced (kafkalab/viz/live.py): the test needs the outputs, not the show
           "KAFKALAB_PACING": os.environ.get("KAFKALAB_PACING", "off")}
    env.pop("MPLBACKEND", None)            # the kernels render figures with the inline backend
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser",
           f"--port={port}", "--ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--LabApp.expose_app_in_browser=True", "--ServerApp.port_retries=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(root / "lab.log", "wb")
    process = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Lab(port, token, root, process)
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(server.url("api/status"), timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"JupyterLab did not start: {(root / 'lab.log').read_text()[-3000:]}")
        time.sleep(0.5)
    yield server
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="session")
def browser(lab):
    from playwright.sync_api import sync_playwright

    profile = lab.root / ".chromium-profile"
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1500, "height": 1000})
        yield context
        context.close()


@pytest.fixture(scope="session")
def output_dir():
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT
