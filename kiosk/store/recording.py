"""A `Disk` that logs every file operation the store makes, for the crash-state explorer
(tests/crash_states.py) and for bench/wear.py's bytes-written figures.

Files are named by path relative to a root and by an inode number the recorder gives them, so a
hard link (snapshot.prev.json) and a rename (temp file -> segment) keep pointing at the same
content. The workload can put its own marks in the log (`mark`): "this commit was called", "it
returned", which is what a crash state is checked against."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kiosk.store.files import Disk

SYNC_KINDS = ("sync", "dirsync")
DIR_KINDS = ("create", "rename", "link", "unlink", "mkdir")


@dataclass(frozen=True)
class Op:
    """One logged step. kind: create, adopt, write, truncate, sync, dirsync, rename, link,
    unlink, mkdir, or mark (the workload's own note, in `note`)."""

    kind: str
    path: str = ""  # the file (or directory, for dirsync and mkdir); rename/link: the source
    inode: int = 0
    offset: int = 0  # write: where; truncate: the new size
    data: bytes = b""  # write, adopt: the bytes (empty when recording sizes only)
    size: int = 0  # write, adopt: how many bytes
    target: str = ""  # rename, link: the destination
    note: tuple = ()


class RecordingDisk(Disk):
    """Does every call for real and appends an Op for each change to `log`."""

    def __init__(self, root: Path, keep_data: bool = True):
        self.root = Path(root).resolve()
        self.keep_data = keep_data
        self.log: list[Op] = []
        self._inode_of: dict[str, int] = {}
        self._fds: dict[int, int | str] = {}  # fd -> inode, or a directory's path
        self._next_inode = 1

    def rel(self, path: os.PathLike | str) -> str:
        return os.path.relpath(Path(path).resolve(), self.root)

    def mark(self, *note: object) -> None:
        self.log.append(Op("mark", note=tuple(note)))

    def _new_inode(self, rel: str) -> int:
        inode, self._next_inode = self._next_inode, self._next_inode + 1
        self._inode_of[rel] = inode
        return inode

    def _data(self, data: bytes) -> bytes:
        return bytes(data) if self.keep_data else b""

    def open(self, path, flags, mode=0o777, *, dir_fd=None):
        rel = self.rel(path)
        existed = os.path.lexists(path)
        fd = os.open(path, flags, mode)
        if flags & os.O_DIRECTORY:
            self._fds[fd] = rel
            return fd
        if not existed:
            self.log.append(Op("create", rel, self._new_inode(rel)))
        elif rel not in self._inode_of:  # a file from before recording started
            content = Path(path).read_bytes()
            self.log.append(Op("adopt", rel, self._new_inode(rel), data=self._data(content), size=len(content)))
        inode = self._inode_of[rel]
        if existed and flags & os.O_TRUNC:
            self.log.append(Op("truncate", rel, inode, offset=0))
        self._fds[fd] = inode
        return fd

    def close(self, fd):
        self._fds.pop(fd, None)
        os.close(fd)

    def write(self, fd, data):
        written = os.write(fd, data)
        end = os.lseek(fd, 0, os.SEEK_CUR)  # after an O_APPEND write too: the file's new end
        self._log_write(fd, end - written, bytes(data[:written]))
        return written

    def pwrite(self, fd, data, offset):
        written = os.pwrite(fd, data, offset)
        self._log_write(fd, offset, bytes(data[:written]))
        return written

    def _target(self, fd: int) -> int | str:
        """What `fd` is; a file opened before recording began is adopted as it is now."""
        if fd not in self._fds:
            path = Path(os.readlink(f"/proc/self/fd/{fd}"))
            rel = self.rel(path)
            if path.is_dir():
                self._fds[fd] = rel
            else:
                if rel not in self._inode_of:
                    content = path.read_bytes() if self.keep_data else b""
                    inode = self._new_inode(rel)
                    self.log.append(Op("adopt", rel, inode, data=content, size=path.stat().st_size))
                self._fds[fd] = self._inode_of[rel]
        return self._fds[fd]

    def _log_write(self, fd: int, offset: int, data: bytes) -> None:
        inode = self._target(fd)
        self.log.append(Op("write", "", inode, offset=offset, data=self._data(data), size=len(data)))

    def _sync(self, fd: int) -> None:
        target = self._target(fd)
        if isinstance(target, str):
            self.log.append(Op("dirsync", target))
        else:
            self.log.append(Op("sync", "", target))

    def fsync(self, fd):
        os.fsync(fd)
        self._sync(fd)

    def fdatasync(self, fd):
        os.fdatasync(fd)
        self._sync(fd)

    def ftruncate(self, fd, length):
        os.ftruncate(fd, length)
        self.log.append(Op("truncate", "", self._target(fd), offset=length))

    def replace(self, src, dst):
        os.replace(src, dst)
        source, target = self.rel(src), self.rel(dst)
        self.log.append(Op("rename", source, self._inode_of.get(source, 0), target=target))
        self._inode_of[target] = self._inode_of.pop(source, 0)

    def link(self, src, dst):
        os.link(src, dst)
        source, target = self.rel(src), self.rel(dst)
        self.log.append(Op("link", source, self._inode_of.get(source, 0), target=target))
        self._inode_of[target] = self._inode_of.get(source, 0)

    def unlink(self, path):
        os.unlink(path)
        rel = self.rel(path)
        self.log.append(Op("unlink", rel, self._inode_of.pop(rel, 0)))

    def mkdir(self, path, mode=0o777):
        os.mkdir(path, mode)
        self.log.append(Op("mkdir", self.rel(path)))

    def database_committed(self, path, image):
        """A committed SQLite transaction is atomic and durable: log it as the whole file
        written aside, synced, renamed over the old one and the directory synced."""
        rel, data = self.rel(path), image()
        tmp = rel + ".committed"
        inode = self._new_inode(tmp)
        self.log.append(Op("create", tmp, inode))
        self.log.append(Op("write", "", inode, offset=0, data=self._data(data), size=len(data)))
        self.log.append(Op("sync", "", inode))
        self.log.append(Op("rename", tmp, inode, target=rel))
        self._inode_of[rel] = self._inode_of.pop(tmp)
        self.log.append(Op("dirsync", os.path.dirname(rel) or "."))

    def bytes_written(self) -> int:
        return sum(op.size for op in self.log if op.kind == "write")
