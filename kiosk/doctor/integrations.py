"""Doctor checks that call into parts other modules provide. Each imports its module lazily
and, when it is missing from this build, says so as a skip: never a pass it did not earn.

Integration contract (what the lead wires when merging):
  kiosk.reader.factory.open_reader(config.reader) -> kiosk.reader.base.Reader, already open
      (.firmware() -> str; .wait_for_card(timeout) -> CardInfo | None; .close())
  kiosk.reader.card.read_member_card(reader, info, SiteKeys) -> MemberCard
  kiosk.reader.keys.SiteKeys.from_file(master_key_file, system_id)
      (verifies the card's MAC; raises kiosk.reader.card_format.CardFormatError)
  kiosk.store.health.integrity(config) -> tuple[bool, str]   (journal/snapshot check, read-only)
  kiosk.store.health.outbox_depth(config) -> int             (entries not yet acked by HQ)
  kiosk.store.health.last_hq_contact(config) -> datetime | None (UTC, last ack from HQ)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from kiosk.doctor.checks import (
    CheckResult,
    Context,
    _need_config,
    fail,
    ok,
    skip,
    warn,
)

OUTBOX_WARN = 200
HQ_SILENCE_WARN = timedelta(hours=24)
HQ_SILENCE_FAIL = timedelta(days=7)


def _find(module: str, attr: str) -> Callable[..., Any] | str:
    """The function, or the skip message naming what is missing."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            return f"{module} not installed in this build"
        raise
    func = getattr(mod, attr, None)
    return func if callable(func) else f"{module}.{attr} not in this build"


def _live(ctx: Context) -> bool:
    """Hardware is only tried on the device itself, not on a root under --root."""
    return Path(ctx.root).resolve() == Path("/")


UNDER_ROOT = "not tried under --root (the reader is attached to the device, not this machine)"


def _reader_error(name: str, exc: Exception) -> CheckResult:
    busy = "busy" in str(exc).lower() or isinstance(exc, PermissionError)
    fix = ("stop the kiosk first (`systemctl stop kiosk`), it holds the reader" if busy else
           "check the wiring and power, and that reader.driver/reader.port match the hardware")
    return fail(name, f"the reader did not answer: {type(exc).__name__}: {exc}", fix)


def check_reader(ctx: Context) -> CheckResult:
    """INTEGRATION: the reader opens and tells its firmware version."""
    name = "reader"
    config = _need_config(ctx, name)
    if isinstance(config, CheckResult):
        return config
    if not _live(ctx):
        return skip(name, UNDER_ROOT)
    open_reader = _find("kiosk.reader.factory", "open_reader")
    if isinstance(open_reader, str):
        return skip(name, open_reader)
    try:
        reader = open_reader(config.reader)
    except Exception as exc:  # any driver error is this check's failure, not the doctor's
        return _reader_error(name, exc)
    try:
        version = reader.firmware()
    except Exception as exc:  # NotSupported: some readers cannot say
        version = f"firmware not reported ({exc})"
    finally:
        reader.close()
    return ok(name, f"{config.reader.driver} answers: {version}")


def check_card_read(ctx: Context) -> CheckResult:
    """INTEGRATION: a card on the reader is read and its signature verified."""
    name = "card read"
    config = _need_config(ctx, name)
    if isinstance(config, CheckResult):
        return config
    if not _live(ctx):
        return skip(name, UNDER_ROOT)
    open_reader = _find("kiosk.reader.factory", "open_reader")
    if isinstance(open_reader, str):
        return skip(name, open_reader)
    from kiosk.logging_setup import hash_uid

    try:
        reader = open_reader(config.reader)
    except Exception as exc:
        return _reader_error(name, exc)
    try:
        info = reader.wait_for_card(ctx.card_wait_s)
        if info is None:
            return skip(name, "no card on the reader (lay one on it to test reading)")
        read_member_card = _find("kiosk.reader.card", "read_member_card")
        if isinstance(read_member_card, str):
            return ok(name, f"{info.type} card {hash_uid(info.uid)} seen; format not "
                      f"checked ({read_member_card})")
        from kiosk.reader.keys import SiteKeys

        key_file = config.secrets.card_master_key_file
        if key_file is None:
            return fail(name, "no card master key configured",
                        "kiosk provision --card-master-key FILE")
        site = SiteKeys.from_file(ctx.path(key_file), config.secrets.card_system_id.encode())
        card = read_member_card(reader, info, site)
    except Exception as exc:
        return fail(name, f"reading the card failed: {type(exc).__name__}: {exc}",
                    "try another card; a card from another chain or a blank card fails here "
                    "(issue it with `kiosk cards issue`)")
    finally:
        reader.close()
    return ok(name, f"{info.type} card {hash_uid(info.uid)} read and verified: member "
              f"{card.member_id}, card {card.card_seq}, issued {card.issued_on}")


def check_store(ctx: Context) -> CheckResult:
    """INTEGRATION: the journal and snapshot are consistent."""
    name = "store"
    config = _need_config(ctx, name)
    if isinstance(config, CheckResult):
        return config
    integrity = _find("kiosk.store.health", "integrity")
    if isinstance(integrity, str):
        return skip(name, integrity)
    try:
        good, detail = integrity(config)
    except Exception as exc:
        return fail(name, f"the store could not be checked: {type(exc).__name__}: {exc}",
                    "stop the kiosk and look at `journalctl -u kiosk`; call HQ support")
    if not good:
        return fail(name, detail, "stop the kiosk and call HQ support; do not delete the data "
                    "dir (unsent transactions are in it)")
    return ok(name, detail)


def check_outbox(ctx: Context) -> CheckResult:
    """INTEGRATION: how many transactions wait for HQ's acknowledgement."""
    name = "outbox"
    config = _need_config(ctx, name)
    if isinstance(config, CheckResult):
        return config
    depth = _find("kiosk.store.health", "outbox_depth")
    if isinstance(depth, str):
        return skip(name, depth)
    try:
        n = int(depth(config))
    except Exception as exc:
        return fail(name, f"the outbox could not be read: {type(exc).__name__}: {exc}",
                    "look at `journalctl -u kiosk`")
    if n > OUTBOX_WARN:
        return warn(name, f"{n} transactions wait for HQ", "check the HQ broker line above")
    return ok(name, f"{n} transactions wait for HQ")


def check_last_hq_contact(ctx: Context) -> CheckResult:
    """INTEGRATION: when HQ last acknowledged anything."""
    name = "last HQ contact"
    config = _need_config(ctx, name)
    if isinstance(config, CheckResult):
        return config
    if not config.hq.host:
        return skip(name, "no HQ configured (standalone kiosk)")
    last = _find("kiosk.store.health", "last_hq_contact")
    if isinstance(last, str):
        return skip(name, last)
    try:
        when = last(config)
    except Exception as exc:
        return fail(name, f"unknown: {type(exc).__name__}: {exc}", "look at `journalctl -u kiosk`")
    if when is None:
        return warn(name, "never", "check the HQ broker line above")
    silence = ctx.now() - when
    detail = f"{when:%Y-%m-%d %H:%M} UTC ({silence.total_seconds() / 3600:.1f} h ago)"
    fix = "check the HQ broker line above; the kiosk keeps working offline within its limits"
    if silence > HQ_SILENCE_FAIL:
        return fail(name, detail, fix)
    if silence > HQ_SILENCE_WARN:
        return warn(name, detail, fix)
    return ok(name, detail)
