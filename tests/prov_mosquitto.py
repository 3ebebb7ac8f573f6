"""A real Mosquitto broker for tests, on a free port in a temp dir (never the system's 1883)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from kiosk.sync.local_broker import free_port


class Mosquitto:
    def __init__(self, workdir: Path, tls: dict[str, Path] | None = None,
                 require_certificate: bool = False, allow_anonymous: bool = True):
        if shutil.which("mosquitto") is None:
            pytest.skip("mosquitto is not installed (scripts/setup.sh installs it)")
        self.port = free_port()
        lines = [f"listener {self.port} 127.0.0.1",
                 f"allow_anonymous {'true' if allow_anonymous else 'false'}",
                 "persistence false", "log_dest stderr"]
        if os.geteuid() == 0:  # else it drops to user `mosquitto`, who cannot read the temp dir
            lines.append("user root")
        if tls:
            lines += [f"cafile {tls['ca']}", f"certfile {tls['cert']}", f"keyfile {tls['key']}",
                      f"require_certificate {'true' if require_certificate else 'false'}"]
            if require_certificate:
                lines.append("use_identity_as_username true")
        conf = workdir / f"mosquitto-{self.port}.conf"
        conf.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.proc.stdout.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
