"""Small file-system steps that make writes survive a power cut: fsync a directory after a
rename or unlink, and write a whole file atomically (temp file, fsync, rename, fsync dir)."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make a rename, create or unlink inside `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dir(path: Path) -> None:
    """mkdir -p, making each new directory's entry durable in its parent."""
    if path.is_dir():
        return
    make_dir(path.parent)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return
    fsync_dir(path.parent)


def write_all(fd: int, data: bytes) -> None:
    """os.write may write less than asked (e.g. on a nearly full disk); loop or raise."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError("write made no progress")
        view = view[written:]


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` so that a crash leaves either the old or the new file, whole."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        write_all(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)
