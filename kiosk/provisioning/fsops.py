"""Writing files so that power loss or a failed step never leaves one half-written.

Every write goes to a temporary file in the same directory, is fsynced, renamed over the old
file and the directory fsynced: a reader sees the old file or the new one, never a mix. A write
whose content, mode and owner already match touches nothing (re-runs leave mtimes alone)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kiosk.store.files import fsync_dir

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


@dataclass(frozen=True)
class Owner:
    uid: int
    gid: int


def under(root: Path, path: Path | str) -> Path:
    """`path` as seen on the device, placed under `root` (which is / on the device itself)."""
    path = Path(path)
    return Path(root) / (path.relative_to("/") if path.is_absolute() else path)


def lookup_user(root: Path, name: str) -> Owner | None:
    """The uid and primary gid of `name` in ROOT/etc/passwd (not the host's, under --root)."""
    try:
        lines = (Path(root) / "etc/passwd").read_text().splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        parts = line.split(":")
        if len(parts) >= 4 and parts[0] == name:
            return Owner(int(parts[2]), int(parts[3]))
    return None


def lookup_group(root: Path, name: str) -> tuple[int, list[str]] | None:
    """(gid, members) of group `name` in ROOT/etc/group."""
    try:
        lines = (Path(root) / "etc/group").read_text().splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        parts = line.split(":")
        if len(parts) >= 4 and parts[0] == name:
            return int(parts[2]), [m for m in parts[3].split(",") if m]
    return None


def matches(path: Path, data: bytes, mode: int | None, owner: Owner | None) -> bool:
    """True when the file already has exactly this content, mode and owner."""
    try:
        st = path.lstat()
        if not path.is_file() or path.is_symlink():
            return False
        if mode is not None and st.st_mode & 0o7777 != mode:
            return False
        if owner is not None and (st.st_uid, st.st_gid) != (owner.uid, owner.gid):
            return False
        return path.read_bytes() == data
    except FileNotFoundError:
        return False


def atomic_write(path: Path, data: bytes, mode: int | None, owner: Owner | None = None) -> str:
    """Replace `path` with `data` atomically; the mode and owner are set before the rename, so
    a secret is never visible with looser permissions, even for an instant. Mode None leaves
    the file system's default (the Pi's FAT boot partition has no modes to set)."""
    path = Path(path)
    if matches(path, data, mode, owner):
        return UNCHANGED
    existed = path.exists()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        if owner is not None:
            os.fchown(fd, owner.uid, owner.gid)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)
    return UPDATED if existed else CREATED


def ensure_dir(path: Path, mode: int, owner: Owner | None = None) -> str:
    """Create the directory (and parents, root-owned 755) or fix its mode and owner."""
    path = Path(path)
    result = UNCHANGED
    if not path.is_dir():
        missing = [p for p in reversed(path.parents) if not p.exists()]
        for parent in missing:
            parent.mkdir(mode=0o755)
        path.mkdir(mode=mode)
        fsync_dir(path.parent)
        result = CREATED
    st = path.stat()
    if st.st_mode & 0o7777 != mode:
        os.chmod(path, mode)
        result = result if result == CREATED else UPDATED
    if owner is not None and (st.st_uid, st.st_gid) != (owner.uid, owner.gid):
        os.chown(path, owner.uid, owner.gid)
        result = result if result == CREATED else UPDATED
    return result
