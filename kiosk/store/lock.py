"""One writer per data directory: an flock'd lock file that names the process holding it.

flock is released by the kernel when the holder dies (even by SIGKILL or power cut), so a
stale lock file never blocks a restart; only a live holder does."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from kiosk.store import files
from kiosk.store.errors import StoreLocked


class DirLock:
    def __init__(self, path: Path):
        self.path = path
        fd = files.disk.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise StoreLocked(path, pid) from None
        files.disk.ftruncate(fd, 0)
        files.disk.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
