"""Small file-system steps that make writes survive a power cut: fsync a directory after a
rename or unlink, and write a whole file atomically (temp file, fsync, rename, fsync dir).

Every call the store makes that reads or changes the card goes through `disk`, one `Disk`:
plain os functions in production (no wrapper, no check), and in tests a recording or
fault-injecting subclass installed with `use()`. That is what lets the crash-state explorer
(tests/test_store_powercut.py) see every write, rename and fsync, and bench/wear.py count bytes."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path


class Disk:
    """The store's file-system calls. Subclasses override a method to record or fail it."""

    open = staticmethod(os.open)
    close = staticmethod(os.close)
    write = staticmethod(os.write)
    pwrite = staticmethod(os.pwrite)
    fsync = staticmethod(os.fsync)
    fdatasync = staticmethod(os.fdatasync)
    ftruncate = staticmethod(os.ftruncate)
    replace = staticmethod(os.replace)
    link = staticmethod(os.link)
    unlink = staticmethod(os.unlink)
    mkdir = staticmethod(os.mkdir)

    def read_bytes(self, path: Path) -> bytes:
        return path.read_bytes()

    def database_committed(self, path: Path, image: Callable[[], bytes]) -> None:
        """SQLite (the member replica) committed a transaction to `path` by its own I/O: in
        production nothing to do; a recorder logs it as an atomic replace by `image()`."""


disk = Disk()


@contextlib.contextmanager
def use(replacement: Disk) -> Iterator[Disk]:
    """Route the store's file calls through `replacement` for the duration (tests, benches)."""
    global disk
    before, disk = disk, replacement
    try:
        yield replacement
    finally:
        disk = before


def fsync_dir(path: Path) -> None:
    """Make a rename, create or unlink inside `path` durable."""
    fd = disk.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        disk.fsync(fd)
    finally:
        disk.close(fd)


def make_dir(path: Path) -> None:
    """mkdir -p, making each new directory's entry durable in its parent."""
    if path.is_dir():
        return
    make_dir(path.parent)
    try:
        disk.mkdir(path, 0o700)
    except FileExistsError:
        return
    fsync_dir(path.parent)


def write_all(fd: int, data: bytes) -> None:
    """os.write may write less than asked (e.g. on a nearly full disk); loop or raise."""
    view = memoryview(data)
    while view:
        written = disk.write(fd, view)
        if written <= 0:
            raise OSError("write made no progress")
        view = view[written:]


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` so that a crash leaves either the old or the new file, whole."""
    tmp = path.with_name(path.name + ".tmp")
    fd = disk.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        write_all(fd, data)
        disk.fsync(fd)
    except BaseException:
        disk.close(fd)
        try:
            disk.unlink(tmp)
        except OSError:
            pass
        raise
    disk.close(fd)
    disk.replace(tmp, path)
    fsync_dir(path.parent)
