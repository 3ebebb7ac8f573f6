"""`kiosk --help` and every subcommand's help read like a manual page."""

from __future__ import annotations

import subprocess
import sys

from kiosk.app.cli import COMMANDS


def kiosk(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=120)


def test_top_level_help_lists_every_command_and_files():
    out = kiosk("--help")
    assert out.returncode == 0
    for name in COMMANDS:
        assert name in out.stdout
    assert "exit status" in out.stdout and "/etc/kiosk/kiosk.toml" in out.stdout


def test_each_command_has_its_own_help():
    for name in COMMANDS:
        out = kiosk(name, "--help")
        assert out.returncode == 0, out.stderr
        assert f"usage: kiosk {name}" in out.stdout


def test_no_command_prints_help_and_fails():
    out = kiosk()
    assert out.returncode == 2 and "commands" in out.stdout


def test_a_command_imports_only_its_own_module():
    """`kiosk run` must not pay for importing HQ, the console, the demo, provisioning and the
    doctor before its first frame: only the command asked for is imported (the others are listed)."""
    probe = (
        "import sys\n"
        "from kiosk.app.cli import build_parser, command_named\n"
        "parser = build_parser(only=command_named(['run', '--simulate']))\n"
        "assert parser.parse_args(['run', '--simulate'])._module.__name__ == 'kiosk.app.run'\n"
        "other = ('kiosk.hq', 'kiosk.demo', 'kiosk.provisioning', 'kiosk.doctor', 'kiosk.till.command')\n"
        "print(sorted(m for m in sys.modules if m.startswith(other)))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
