"""Doctor checks that use the reader, the card layer and the store. They import those lazily,
so `kiosk doctor --help` and the config checks stay quick, and hardware is only tried on the
device itself (not under --root): those cases are skips with the reason, never a pass.

What they use:
  kiosk.reader.factory.open_reader(config.reader) -> Reader, already open
      (.firmware() -> str; .wait_for_card(timeout) -> CardInfo | None; .close())
  kiosk.reader.card.read_member_card(reader, info, SiteKeys) -> MemberCard
  kiosk.reader.keys.SiteKeys.from_file(master_key_file, system_id)
  kiosk.store.store.Store.open(data_dir, device_id): .check() -> list of problems,
      .outbox_depth(), .meta_get(LAST_HQ_CONTACT_META) -> ISO 8601 UTC string or None
      (the sync client records it whenever HQ acknowledges new transactions). The store
      takes its lock: while the kiosk runs, these three checks say the store is in use, and
      `systemctl status kiosk` shows the service's own status.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kiosk.doctor.checks import (
    CheckResult,
    Context,
    Status,
    _need_config,
    fail,
    ok,
    skip,
    warn,
)
from kiosk.provisioning import fsops
from kiosk.provisioning.system import SERVICE_USER

OUTBOX_WARN = 200
HQ_SILENCE_WARN = timedelta(hours=24)
HQ_SILENCE_FAIL = timedelta(days=7)


def _live(ctx: Context) -> bool:
    """Hardware is only tried on the device itself, not on a root under --root."""
    return Path(ctx.root).resolve() == Path("/")


UNDER_ROOT = "not tried under --root (the reader is attached to the device, not this machine)"


def _reader_error(name: str, exc: Exception) -> CheckResult:
    busy = "busy" in str(exc).lower() or isinstance(exc, PermissionError)
    fix = ("stop the kiosk first (`systemctl stop kiosk`), it holds the reader" if busy else
           "check the wiring and power, and that reader.driver/reader.port match the hardware")
    return fail(name, f"the reader did not answer: {type(exc).__name__}: {exc}", fix)


def _open_live_reader(ctx: Context, name: str):
    """(config, open reader), or the CheckResult that says why there is none."""
    config = _need_config(ctx, name)
    if isinstance(config, CheckResult):
        return config
    if not _live(ctx):
        return skip(name, UNDER_ROOT)
    if config.reader.driver == "simulated" and config.reader.port and not Path(config.reader.port).is_file():
        cards = config.reader.port
        return fail(name, f"the simulated reader's card file {cards} does not exist",
                    f"make one with a blank card: `kiosk sim-card --cards {cards} new alice classic1k`")
    from kiosk.reader.factory import open_reader

    try:
        return config, open_reader(config.reader)
    except Exception as exc:  # any driver error is this check's failure, not the doctor's
        return _reader_error(name, exc)


def check_reader(ctx: Context) -> CheckResult:
    """The reader opens and tells its firmware version."""
    name = "reader"
    opened = _open_live_reader(ctx, name)
    if isinstance(opened, CheckResult):
        return opened
    config, reader = opened
    try:
        version = reader.firmware()
    except Exception as exc:  # NotSupported: some readers cannot say
        version = f"firmware not reported ({exc})"
    finally:
        reader.close()
    return ok(name, f"{config.reader.driver} answers: {version}")


def check_card_read(ctx: Context) -> CheckResult:
    """A card on the reader is read and its signature verified."""
    name = "card read"
    opened = _open_live_reader(ctx, name)
    if isinstance(opened, CheckResult):
        return opened
    config, reader = opened
    from kiosk.app.logging_setup import hash_uid, use_install_salt
    from kiosk.reader.card import read_member_card

    use_install_salt(ctx.path(config.device.data_dir))  # the hash the service's log shows

    try:
        info = reader.wait_for_card(ctx.card_wait_s)
        if info is None:
            return skip(name, "no card on the reader (lay one on it to test reading)")
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


LAST_HQ_CONTACT_META = "sync.last_ack_at"  # kiosk.sync.client.LAST_ACK_KEY (not imported: no paho here)


@dataclass(frozen=True)
class StoreReport:
    problems: list[str]
    outbox_depth: int
    last_hq_contact: datetime | None
    segments: int
    torn_tails: list[Path] = field(default_factory=list)
    latest_seen: datetime | None = None  # the latest time the ledger records


def _read_pepper(ctx: Context, config) -> bytes:
    path = config.secrets.pin_pepper_file
    try:
        return ctx.path(path).read_bytes() if path else b""
    except OSError:
        return b""


def _store_report(ctx: Context, config) -> StoreReport | tuple[Status, str, str]:
    """Open the store once per doctor run (it checks the journal as it opens) and read it."""
    if "store" in ctx.memo:
        return ctx.memo["store"]
    from kiosk.store.store import Store as store_cls

    data_dir = ctx.path(config.device.data_dir)
    result: StoreReport | tuple[Status, str, str]
    if not data_dir.is_dir():
        result = (Status.SKIP, f"no data dir {config.device.data_dir} (see the data dir line)",
                  "")
    elif not (data_dir / "snapshot.json").exists() and not (data_dir / "journal").is_dir():
        result = (Status.SKIP, "no store yet (the kiosk creates it when it first starts)", "")
    else:
        from kiosk.ledger.sample import default_rules

        # Everything read as root (pepper, the package's sample rules) is read before the
        # switch to the service user, which may not be able to read a developer's checkout.
        pepper, rules = _read_pepper(ctx, config), default_rules()
        with as_service_user(ctx):
            result = _open_and_read(store_cls, data_dir, config.device.id, pepper, rules)
    ctx.memo["store"] = result
    return result


@contextlib.contextmanager
def as_service_user(ctx: Context):
    """Run as the kiosk user while touching its store, so a `sudo kiosk doctor` never leaves
    root-owned files (a lock file, a cut-off torn tail) the service could not write later."""
    user = fsops.lookup_user(ctx.root, SERVICE_USER) if os.geteuid() == 0 else None
    if user is None:
        yield
        return
    os.setegid(user.gid)
    os.seteuid(user.uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def _open_and_read(store_cls, data_dir: Path, device_id: str, pepper: bytes,
                   rules) -> StoreReport | tuple[Status, str, str]:
    from kiosk.store.errors import StoreCorrupt, StoreError, StoreLocked

    try:
        store = store_cls.open(data_dir, device_id, rules=rules, pepper=pepper)
    except StoreLocked as exc:
        holder = f"process {exc.pid}" if exc.pid else "another process"
        return (Status.SKIP, f"in use by {holder} (the running kiosk); stop it to check here, "
                "or see `systemctl status kiosk`", "")
    except StoreCorrupt as exc:
        return (Status.FAIL, f"{exc.path}: {exc.problem}", "stop the kiosk and call HQ support; "
                "do not delete the data dir (unsent transactions are in it)")
    except StoreError as exc:
        return (Status.FAIL, str(exc), "look at `journalctl -u kiosk`; check disk space")
    except PermissionError as exc:
        return (Status.FAIL, f"the {SERVICE_USER} user cannot open the store: {exc}",
                f"chown -R {SERVICE_USER}:{SERVICE_USER} {data_dir}")
    try:
        raw = store.meta_get(LAST_HQ_CONTACT_META)
        try:
            last = datetime.fromisoformat(raw) if isinstance(raw, str) else None
        except ValueError:
            last = None
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        return StoreReport(store.check(), store.outbox_depth(), last,
                           len(store.journal_segments()), store.torn_tail_copies(),
                           store.latest_txn_at)
    finally:
        store.close()


def _store_for(ctx: Context, name: str, config=None) -> StoreReport | CheckResult:
    """The store report the three store checks read, or the result that stops the check
    (no configuration, or a store that could not be opened)."""
    if config is None:
        config = _need_config(ctx, name)
        if isinstance(config, CheckResult):
            return config
    report = _store_report(ctx, config)
    if isinstance(report, tuple):
        status, detail, fix = report
        return CheckResult(name, status, detail, fix)
    return report


def check_store(ctx: Context) -> CheckResult:
    """The journal and snapshot re-read from disk agree with the state."""
    name = "store"
    report = _store_for(ctx, name)
    if isinstance(report, CheckResult):
        return report
    if report.problems:
        return fail(name, "; ".join(report.problems[:3]) + (
            f" (+{len(report.problems) - 3} more)" if len(report.problems) > 3 else ""),
            "stop the kiosk and call HQ support; do not delete the data dir (unsent "
            "transactions are in it)")
    if report.torn_tails:
        return warn(name, f"journal and snapshot consistent; {len(report.torn_tails)} interrupted write(s) "
                    f"were cut after a power cut (nothing committed lost), the newest kept as "
                    f"{report.torn_tails[-1]}", "nothing to do unless this repeats: then check the "
                    "power supply and the SD card")
    return ok(name, f"journal ({report.segments} segment(s)) and snapshot consistent")


def check_outbox(ctx: Context) -> CheckResult:
    """How many transactions wait for HQ's acknowledgement."""
    name = "outbox"
    report = _store_for(ctx, name)
    if isinstance(report, CheckResult):
        return report
    n = report.outbox_depth
    if n > OUTBOX_WARN:
        return warn(name, f"{n} transactions wait for HQ", "check the HQ broker line above")
    return ok(name, f"{n} transactions wait for HQ")


def latest_seen(ctx: Context) -> datetime | None:
    """The latest transaction time the store holds, for the clock check (None: not known, e.g.
    no configuration or the store in use by the running kiosk)."""
    report = _store_for(ctx, "clock")
    return None if isinstance(report, CheckResult) else report.latest_seen


def check_last_hq_contact(ctx: Context) -> CheckResult:
    """When HQ last acknowledged anything."""
    name = "last HQ contact"
    config = _need_config(ctx, name)
    if isinstance(config, CheckResult):
        return config
    if not config.hq.host:
        return skip(name, "no HQ configured (standalone kiosk)")
    report = _store_for(ctx, name, config)
    if isinstance(report, CheckResult):
        return report
    when = report.last_hq_contact
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
