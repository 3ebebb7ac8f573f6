"""A private pcscd for tests: its own reader.conf.d (vpcd on a free port) and its own socket.

Debian's pcscd 1.9.9 ignores PCSCLITE_CSOCK_NAME and always serves /run/pcscd/pcscd.comm, so it
runs in a private mount namespace (unshare, we are root) where a temp directory is bind-mounted
over /run/pcscd: a system pcscd is never touched, and clients in the test process reach ours by
setting PCSCLITE_CSOCK_NAME (libpcsclite honours it) to the socket inside that directory."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
READER_NAME = "Virtual PCD"


def available() -> str:
    """Why a private pcscd cannot run here, or "" when it can."""
    for tool in ("pcscd", "unshare", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    if not Path(VPCD_DRIVER).exists():
        return "vsmartcard-vpcd not installed"
    if os.geteuid() != 0:
        return "a private mount namespace needs root"
    return ""


def free_port_pair() -> int:
    """A TCP port p with p and p+1 free (vpcd opens one per slot)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair")


class Pcscd:
    def __init__(self, workdir: Path, port: int | None = None):
        self.workdir = Path(workdir)
        self.port = port or free_port_pair()
        self.conf = self.workdir / "reader.conf.d"
        self.run_dir = self.workdir / "run"
        self.socket = self.run_dir / "pcscd.comm"
        self.log = self.workdir / "pcscd.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.conf.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.conf / "vpcd").write_text(
            f'FRIENDLYNAME "{READER_NAME}"\nDEVICENAME /dev/null:{self.port}\n'
            f"LIBPATH {VPCD_DRIVER}\nCHANNELID {self.port}\n"
        )
        Path("/run/pcscd").mkdir(parents=True, exist_ok=True)  # the mount point must exist
        script = f'mount --bind "{self.run_dir}" /run/pcscd && exec pcscd -f -c "{self.conf}"'
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pcscd did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        for leftover in (self.socket, self.run_dir / "pcscd.pid"):
            leftover.unlink(missing_ok=True)

    def __enter__(self) -> Pcscd:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

