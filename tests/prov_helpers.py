"""Shared helpers for the provisioning and doctor tests: a minimal device root and a way to run
one `kiosk` subcommand exactly as the CLI does (same parser construction, same run())."""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
from pathlib import Path

from kiosk.app.cli import COMMANDS

PASSWD = "root:x:0:0:root:/root:/bin/bash\n"
GROUP = "root:x:0:\ndialout:x:20:\nvideo:x:44:\n"


def make_root(path: Path) -> Path:
    """A directory that looks like a fresh Raspberry Pi OS root to useradd and systemctl."""
    etc = path / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text(PASSWD)
    (etc / "group").write_text(GROUP)
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (etc / "gshadow").write_text("root:*::\ndialout:!::\nvideo:!::\n")
    for name in ("shadow", "gshadow"):
        (etc / name).chmod(0o640)
    return path


def command_parser(name: str) -> argparse.ArgumentParser:
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"kiosk {name}", description=module.DESCRIPTION,
                                     epilog=module.EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(parser)
    parser.set_defaults(_module=module)
    return parser


def run_command(name: str, *argv: str) -> int:
    args = command_parser(name).parse_args([str(a) for a in argv])
    return int(args._module.run(args) or 0)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under root with its type, mode, owner, content hash and mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            if p.is_symlink():
                content = os.readlink(p)
            elif p.is_file():
                content = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                content = "dir"
            out[str(p.relative_to(root))] = (st.st_mode, st.st_uid, st.st_gid, content,
                                             st.st_mtime_ns)
    return out
