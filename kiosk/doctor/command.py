"""`kiosk doctor`: every check, one line each, with the fix for what fails."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kiosk.doctor import ALL_CHECKS, run_checks
from kiosk.doctor.checks import DEFAULT_CONFIG, CheckResult, Context, Status

DESCRIPTION = """\
Check everything a kiosk needs and print one line per check (ok / WARN / FAIL / skip) with the
fix for each problem: the configuration, the service user and the local rules file; the card
master key and TLS key files (present, mode 600, owned by the kiosk user); the data directory;
disk space; the clock (against the build date and an NTP server); the reader's device node, the
reader itself (firmware) and a card on it; the HQ broker (TCP, TLS handshake, MQTT CONNECT,
certificate expiry warned 30 days ahead); the store's integrity, whether the clock is trusted yet
(after the build date and the ledger's latest time, NTP synchronised), the outbox depth and the
last contact with HQ; and the systemd unit.

A check that needs a part not in this build (say, the store), or a configuration that is
missing, is reported as skip with the reason, never as a pass; an NTP server that does not
answer is a warning (the clock was not compared). The reader test opens the reader: stop the
kiosk service first (`systemctl stop kiosk`) to run it on a working kiosk."""

EPILOG = """\
files:
  /etc/kiosk/kiosk.toml          the configuration (or --config FILE)
  /etc/kiosk/card_master.key     checked for mode 600 and owner kiosk; never printed
  /var/lib/kiosk/                the store: journal, snapshots, outbox (opened as the kiosk user)

examples:
  sudo kiosk doctor
  sudo kiosk doctor --ntp ntp.aliyun.com
  kiosk doctor --root /mnt/sdcard --ntp ''

exit status:
  0 nothing failed (warnings and skips allowed); 1 at least one check failed"""

MARK = {Status.OK: "ok", Status.WARN: "WARN", Status.FAIL: "FAIL", Status.SKIP: "skip"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, metavar="FILE",
                   help="configuration to check (default /etc/kiosk/kiosk.toml)")
    p.add_argument("--root", type=Path, default=Path("/"), metavar="DIR",
                   help="check the kiosk installed under DIR")
    p.add_argument("--ntp", default="pool.ntp.org", metavar="SERVER",
                   help="NTP server[:port] for the clock check ('' skips it)")
    p.add_argument("--timeout", type=float, default=5.0, metavar="S",
                   help="seconds to wait for the broker and NTP")
    p.add_argument("--json", action="store_true", help="one JSON object per check")
    p.add_argument("--strict", action="store_true", help="warnings fail too")


def context(args: argparse.Namespace) -> Context:
    host, _, port = (args.ntp or "").partition(":")
    return Context(root=args.root, config_path=args.config, timeout=args.timeout,
                   ntp_server=host or None, ntp_port=int(port or 123))


def format_result(r: CheckResult) -> str:
    line = f"{MARK[r.status]:<5} {r.name:<16} {r.detail}"
    if r.fix and r.status in (Status.FAIL, Status.WARN):
        line += f"\n{'':<22}fix: {r.fix}"
    return line


def summary(results: list[CheckResult]) -> str:
    count = {s: sum(r.status == s for r in results) for s in Status}
    return (f"{count[Status.OK]} ok, {count[Status.WARN]} warnings, {count[Status.FAIL]} failed, "
            f"{count[Status.SKIP]} skipped")


def exit_status(results: list[CheckResult], strict: bool = False) -> int:
    bad = {Status.FAIL, Status.WARN} if strict else {Status.FAIL}
    return 1 if any(r.status in bad for r in results) else 0


def run(args: argparse.Namespace) -> int:
    results = run_checks(context(args), ALL_CHECKS)
    if args.json:
        for r in results:
            print(json.dumps({"name": r.name, "status": str(r.status), "detail": r.detail,
                              "fix": r.fix}, ensure_ascii=False))
    else:
        print(f"kiosk doctor: {args.config}" + (f" under {args.root}" if str(args.root) != "/"
                                                 else ""))
        for r in results:
            print(format_result(r))
        print(summary(results))
    sys.stdout.flush()
    return exit_status(results, args.strict)
