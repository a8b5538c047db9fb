"""Start and stop a throw-away JupyterLab server for browser tests.

Everything it writes goes to one temporary folder: HOME, the Jupyter config / runtime /
data folders, IPython's and Matplotlib's folders, JupyterLab's user settings (seeded to
silence the news toast, turn off autosave and windowed rendering) and workspaces. The
server listens on 127.0.0.1 only, with a random token, on a port chosen here
(``port_retries=0``: it never silently moves to another port). It is stopped by the PID
it was started with, and :func:`stop` checks that the port is closed afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

SEEDED_SETTINGS = {
    # The "Jupyter news" toast would cover screenshots.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    # Never write the notebook back while the test runs it.
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    # Keep every cell in the DOM, so counting cells and prompts is reliable.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class LabServer:
    root_dir: Path
    work_dir: Path
    port: int
    token: str
    process: subprocess.Popen
    log_path: Path
    started_at: float = field(default_factory=time.monotonic)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}?token={self.token}"

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


def _seed_settings(settings_dir: Path) -> None:
    for rel, content in SEEDED_SETTINGS.items():
        path = settings_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))


def start(root_dir: Path, work_dir: Path, extra_env: dict[str, str] | None = None, timeout: float = 60.0) -> LabServer:
    """Start ``jupyter lab`` serving ``root_dir``; all state under ``work_dir``.

    Raises:
        RuntimeError: the server exits early or does not answer ``/api/status`` in time
            (the message holds the end of its log).
    """
    home = work_dir / "home"
    dirs = {name: work_dir / name for name in ("config", "runtime", "data", "ipython", "mpl", "settings", "workspaces")}
    for d in (home, *dirs.values()):
        d.mkdir(parents=True, exist_ok=True)
    _seed_settings(dirs["settings"])
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        IPYTHONDIR=str(dirs["ipython"]),
        MPLCONFIGDIR=str(dirs["mpl"]),
        JUPYTER_PLATFORM_DIRS="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.pop("JUPYTER_PATH", None)
    env.update(extra_env or {})
    port = free_port()
    token = secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "jupyter", "lab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root_dir}",
        f"--LabApp.user_settings_dir={dirs['settings']}",
        f"--LabApp.workspaces_dir={dirs['workspaces']}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log_path = work_dir / "jupyterlab.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(cmd, cwd=root_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    server = LabServer(root_dir, work_dir, port, token, process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with code {process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url("api/status"), timeout=2) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.25)
    stop(server)
    raise RuntimeError(f"jupyter lab did not answer on port {port} within {timeout:.0f} s:\n{server.log_tail()}")


def stop(server: LabServer, timeout: float = 15.0) -> None:
    """Stop the server by the PID we started (its session group: server and kernels).

    Raises:
        RuntimeError: the port is still open afterwards.
    """
    proc = server.process
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # jupyter server shuts its kernels down on SIGTERM
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    try:  # anything left in the session group we created (pgid == the server's PID)
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    deadline = time.monotonic() + 10
    while port_is_open(server.port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"port {server.port} still open after stopping jupyter lab (pid {proc.pid})")
        time.sleep(0.2)


def cleanup(work_dir: Path) -> None:
    shutil.rmtree(work_dir, ignore_errors=True)
