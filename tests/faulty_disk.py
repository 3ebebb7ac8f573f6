"""A Disk (kiosk.store.files seam) that fails like a failing SD card: after `after` calls of the
kinds it covers, every such call raises a real OSError (ENOSPC, EIO, EROFS...) until `clear()`.

Kinds: open (for writing), write, sync (fsync/fdatasync), truncate, rename, link, unlink, mkdir,
read. Disk full covers what needs space (open, write, sync, link, mkdir); a read-only remount
covers every change; an unreadable old segment covers `read` of one path."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from kiosk.store.files import Disk

NEEDS_SPACE = frozenset({"open", "write", "sync", "link", "mkdir"})
CHANGES = frozenset({"open", "write", "sync", "truncate", "rename", "link", "unlink", "mkdir"})
_WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC


class FaultyDisk(Disk):
    def __init__(
        self,
        code: int = errno.ENOSPC,
        kinds: frozenset[str] = NEEDS_SPACE,
        after: int | None = 0,
        path_contains: str = "",
    ):
        self.code, self.kinds, self.after, self.path_contains = code, kinds, after, path_contains
        self.calls = 0  # calls of the covered kinds seen so far
        self.failed = 0

    def clear(self) -> None:
        self.after = None

    def _gate(self, kind: str, path: object = None) -> None:
        if kind not in self.kinds or (self.path_contains and self.path_contains not in str(path or "")):
            return
        self.calls += 1
        if self.after is not None and self.calls > self.after:
            self.failed += 1
            raise OSError(self.code, os.strerror(self.code), None if path is None else str(path))

    def open(self, path, flags, mode=0o777, *, dir_fd=None):
        if flags & _WRITING:
            self._gate("open", path)
        return os.open(path, flags, mode)

    def write(self, fd, data):
        self._gate("write", self._fd_path(fd))
        return os.write(fd, data)

    def pwrite(self, fd, data, offset):
        self._gate("write")
        return os.pwrite(fd, data, offset)

    def _fd_path(self, fd: int) -> str | None:
        return os.readlink(f"/proc/self/fd/{fd}") if self.path_contains else None

    def fsync(self, fd):
        self._gate("sync", self._fd_path(fd))
        os.fsync(fd)

    def fdatasync(self, fd):
        self._gate("sync", self._fd_path(fd))
        os.fdatasync(fd)

    def ftruncate(self, fd, length):
        self._gate("truncate")
        os.ftruncate(fd, length)

    def replace(self, src, dst):
        self._gate("rename", dst)
        os.replace(src, dst)

    def link(self, src, dst):
        self._gate("link", dst)
        os.link(src, dst)

    def unlink(self, path):
        self._gate("unlink", path)
        os.unlink(path)

    def mkdir(self, path, mode=0o777):
        self._gate("mkdir", path)
        os.mkdir(path, mode)

    def read_bytes(self, path: Path) -> bytes:
        self._gate("read", path)
        return path.read_bytes()


def count_calls(step, kinds: frozenset[str] = NEEDS_SPACE) -> int:
    """How many covered calls `step()` makes when nothing fails."""
    from kiosk.store import files

    counter = FaultyDisk(kinds=kinds, after=None)
    with files.use(counter):
        step()
    return counter.calls
