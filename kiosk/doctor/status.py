"""`kiosk status`: who this kiosk is and how it is doing, on one screen."""

from __future__ import annotations

import argparse
from pathlib import Path

import kiosk
from kiosk.doctor import checks, integrations, replica_feed, run_checks
from kiosk.doctor.checks import DEFAULT_CONFIG, Context, Status

DESCRIPTION = """\
A one-screen summary for a technician on the phone with HQ: the kiosk's identity, the service
state, the reader, the HQ link, the outbox and last HQ contact, disk and clock. It does not open
the reader (the running service holds it) and does not ask an NTP server; `kiosk doctor` checks
everything, with fixes."""

EPILOG = """\
example:
  kiosk status            (then `kiosk doctor` for the fix of any line marked X or !)

marks:
  (blank) ok   ! warning   X failed   - not checked (the line says why)

exit status:
  0 nothing failed; 1 something failed (run `kiosk doctor` for the fix)"""

SUMMARY_CHECKS = (
    checks.check_config,
    checks.check_systemd,
    checks.check_reader_device,
    checks.check_broker,
    integrations.check_outbox,
    replica_feed.check_member_replica,
    integrations.check_last_hq_contact,
    integrations.check_store,
    checks.check_data_dir,
    checks.check_disk,
    checks.check_clock,
    integrations.check_clock_trusted,
)
MARK = {Status.OK: " ", Status.WARN: "!", Status.FAIL: "X", Status.SKIP: "-"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, metavar="FILE",
                   help="the configuration (default /etc/kiosk/kiosk.toml)")
    p.add_argument("--root", type=Path, default=Path("/"), metavar="DIR",
                   help="the kiosk installed under DIR")
    p.add_argument("--timeout", type=float, default=3.0, metavar="S",
                   help="seconds to wait for the broker")


def render(ctx: Context, width: int = 100) -> tuple[str, int]:
    results = run_checks(ctx, SUMMARY_CHECKS)
    config, _ = ctx.load()
    if config is not None:
        head = (f"kiosk {kiosk.__version__}  device {config.device.id}  store "
                f"{config.device.store}  reader {config.reader.driver} {config.reader.port}  "
                f"HQ {config.hq.host or '(standalone)'}")
    else:
        head = f"kiosk {kiosk.__version__}  (no valid configuration)"
    lines = [head, "-" * min(width, max(len(head), 40))]
    for r in results:
        detail = r.detail if len(r.detail) <= width - 20 else r.detail[: width - 23] + "..."
        lines.append(f"{MARK[r.status]} {r.name:<16} {detail}")
    bad = sum(r.status in (Status.FAIL, Status.WARN) for r in results)
    lines.append(f"{bad} problem(s): run `kiosk doctor` for the fixes" if bad else "all good")
    return "\n".join(lines), int(any(r.status == Status.FAIL for r in results))


def run(args: argparse.Namespace) -> int:
    text, code = render(Context(root=args.root, config_path=args.config, timeout=args.timeout,
                                ntp_server=None))
    print(text)
    return code
