"""`kiosk doctor` and `kiosk status`: what is wrong with this kiosk, and how to fix it."""

from __future__ import annotations

from collections.abc import Callable

from kiosk.doctor import checks, integrations, printer, replica_feed, setup_checks, till
from kiosk.doctor.checks import CheckResult, Context, Status

Check = Callable[[Context], CheckResult]

# In the order a technician fixes things: the config first, then what it points at.
ALL_CHECKS: tuple[Check, ...] = (
    checks.check_config,
    setup_checks.check_service_user,
    setup_checks.check_rules_file,
    checks.check_master_key,
    checks.check_pin_pepper,
    checks.check_tls_files,
    checks.check_data_dir,
    checks.check_disk,
    checks.check_clock,
    checks.check_reader_device,
    integrations.check_reader,
    integrations.check_card_read,
    printer.check_printer,
    till.check_till_api,
    checks.check_broker,
    integrations.check_store,
    integrations.check_clock_trusted,
    integrations.check_outbox,
    replica_feed.check_member_replica,
    integrations.check_last_hq_contact,
    checks.check_systemd,
)


def run_one(check: Check, ctx: Context) -> CheckResult:
    """A check that crashes is reported as its own failure; the others still run."""
    try:
        return check(ctx)
    except Exception as exc:
        name = check.__name__.removeprefix("check_").replace("_", " ")
        return CheckResult(name, Status.FAIL, f"the check itself failed: {type(exc).__name__}: "
                           f"{exc}", "report this to the kiosk's developers with the output above")


def run_checks(ctx: Context, selected: tuple[Check, ...] = ALL_CHECKS) -> list[CheckResult]:
    return [run_one(check, ctx) for check in selected]
