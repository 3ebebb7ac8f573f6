"""The doctor's one line about the clock: is it believable, and how far is it from NTP.

One line, because the two questions share their worst case: a clock before this software's build
date is both wrong and not trusted, and used to show as a "clock" FAIL and a "clock trusted" WARN
saying the same thing. Now the line is the worst of:

- not trusted (kiosk/ledger/clock_trust.py, the rule the session marks transactions by): FAIL
  before the build date (certainly wrong), WARN behind the ledger's latest time or before NTP has
  synchronised (it may yet come right by itself);
- compared with an NTP server (`--ntp`): FAIL over CLOCK_FAIL_S off, WARN over CLOCK_WARN_S or
  when the server does not answer."""

from __future__ import annotations

from kiosk.app.clock_trust import TIMESYNC_DIR, build_date, ntp_synchronized
from kiosk.doctor import integrations
from kiosk.doctor.checks import CheckResult, Context, Status, fail, ok, warn
from kiosk.ledger.clock_trust import judge_clock

NAME = "clock"
CLOCK_WARN_S = 5.0
CLOCK_FAIL_S = 120.0
UNTRUSTED = "transactions are marked so and birthday gifts, points expiry and check-in wait"
SET_TIME = ("set the time: `timedatectl set-ntp true` (needs network) or `date -s 'YYYY-MM-DD HH:MM'`; "
            "a Pi has no battery clock")


def check_clock(ctx: Context) -> CheckResult:
    now = ctx.now()
    built = build_date()
    latest = integrations.latest_seen(ctx)
    synced = ntp_synchronized(ctx.path(TIMESYNC_DIR))
    verdict = judge_clock(now, built=built, latest_seen=latest, ntp_synced=synced)
    if now < built:
        return fail(NAME, f"not trusted: {verdict.reason}; {UNTRUSTED}", SET_TIME)
    measured = _compare_with_ntp(ctx, now)
    if not verdict.trusted:
        detail = f"not yet trusted: {verdict.reason}; {UNTRUSTED}; {measured.detail}"
        status = Status.FAIL if measured.status is Status.FAIL else Status.WARN
        return CheckResult(NAME, status, detail, "wait for NTP (`timedatectl timesync-status`), or " + SET_TIME)
    ntp = "NTP synchronised" if synced else "NTP state not known here"
    seen = f", after the ledger's latest time {latest:%Y-%m-%d %H:%M} UTC" if latest else ""
    return CheckResult(NAME, measured.status, f"trusted ({ntp}{seen}); {measured.detail}", measured.fix)


def _compare_with_ntp(ctx: Context, now) -> CheckResult:
    """The clock against `ctx.ntp_server`: how far off, in the detail; a warning when not compared."""
    from kiosk.doctor import net

    if not ctx.ntp_server:
        return ok(NAME, f"{now:%Y-%m-%d %H:%M:%S} UTC (not compared: no NTP server given)")
    try:
        server = net.sntp_time(ctx.ntp_server, ctx.ntp_port, min(ctx.timeout, 2.0))
    except (OSError, ValueError) as exc:
        return warn(NAME, f"{now:%Y-%m-%d %H:%M:%S} UTC, not compared: NTP server {ctx.ntp_server} not "
                    f"reachable ({exc})", "check the network and that UDP port 123 is open, or name a "
                    "reachable server with --ntp SERVER (e.g. ntp.aliyun.com)")
    offset = server - ctx.now().timestamp()
    detail = f"{now:%Y-%m-%d %H:%M:%S} UTC, {offset:+.1f}s from NTP {ctx.ntp_server}"
    if abs(offset) > CLOCK_FAIL_S:
        return fail(NAME, detail, "turn on time sync: `timedatectl set-ntp true`; check "
                    "systemd-timesyncd can reach the NTP server")
    if abs(offset) > CLOCK_WARN_S:
        return warn(NAME, detail, "check systemd-timesyncd: `timedatectl timesync-status`")
    return ok(NAME, detail)
