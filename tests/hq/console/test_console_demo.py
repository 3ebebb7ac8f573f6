"""`kiosk hq console --demo` as a newcomer runs it (a real process on a free port), and the
console's systemd unit."""

from __future__ import annotations

import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kiosk.app.cli import build_parser
from kiosk.provisioning.system import render_unit
from tests.fixtures.postgres import free_port

UNIT = Path("systemd/kiosk-hq-console.service")


def _sign_in(url: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=60)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"csrf": token, "username": username, "password": password}).status_code == 303
    return client


def _wait_until_listening(port: int, proc: subprocess.Popen, deadline: float) -> None:
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, "the demo console never listened"
            time.sleep(0.1)


def test_the_demo_console_serves_the_demo_chain_and_cleans_up():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "hq", "--db", "/nonexistent/never.sqlite3", "console",
                             "--demo", "--port", str(port)], stderr=subprocess.PIPE, text=True)
    said: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while "Uvicorn running" not in "".join(said) and "on " not in "".join(said[-1:]):
            assert time.monotonic() < deadline and proc.poll() is None, "".join(said)
            said.append(proc.stderr.readline())
        text = "".join(said)
        password = re.search(r"password \(every account\): (\S+)", text).group(1)
        folder = re.search(r"on (\S*kiosk-hq-console-demo-\S+)/hq-demo.sqlite3", text).group(1)
        url = f"http://127.0.0.1:{port}"
        _wait_until_listening(port, proc, deadline)  # the banner can come before uvicorn listens
        admin = _sign_in(url, "demo-admin", password)
        assert "王芳" in admin.get("/members?q=13800138001").text  # the `kiosk demo` morning's member
        assert "周婷" in _sign_in(url, "demo-s1", password).get("/followups?store=S1").text
        assert _sign_in(url, "demo-finance", password).get("/approvals").status_code == 200
        assert not Path("/nonexistent/never.sqlite3").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 0, rest
    assert not Path(folder).exists()


def test_the_console_unit_passes_systemd_analyze_verify(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (scripts/setup.sh installs systemd)")
    unit = tmp_path / UNIT.name
    unit.write_text(render_unit(UNIT.read_text(), sys.executable + " -m kiosk", "/var/lib/kiosk-hq", "", ""))
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr
    broken = tmp_path / "broken.service"
    broken.write_text(unit.read_text().replace("Type=simple", "Type=simpel"))
    assert "Failed to parse service type" in subprocess.run(["systemd-analyze", "verify", str(broken)],
                                                            capture_output=True, text=True).stderr


def test_the_units_command_line_is_one_the_console_accepts():
    line = next(x for x in UNIT.read_text().splitlines() if x.startswith("ExecStart="))
    args = build_parser().parse_args(shlex.split(line)[1:])
    assert (args.hq_command, args.host, args.port, args.behind_https, args.demo) == (
        "console", "127.0.0.1", 8080, True, False)
