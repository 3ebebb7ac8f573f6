"""The fleet page: every kiosk the user may see, what its newest status message said (software,
rules version, reader, printer, money paused), its incidents, and a flag on a kiosk silent for
longer than the admin's threshold (HQ's `settings`, `console_silent_minutes`, default 30)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kiosk.hq import devices
from kiosk.hq.console import audit
from kiosk.hq.console.page import Ctx, Denied, NotFound, Page
from kiosk.hq.incidents import list_incidents
from kiosk.hq.publisher import get_setting, put_setting
from kiosk.hq.rules_scopes import rules_for_store
from kiosk.ledger.sample import default_rules

SILENT_KEY = "console_silent_minutes"
SILENT_DEFAULT = 30
SILENT_MAX = 7 * 24 * 60
INCIDENT_DAYS = 7  # the fleet counts the incidents of the last week
BUILT_IN = default_rules().version  # what a kiosk runs before HQ publishes any rules


@dataclass(frozen=True)
class Kiosk:
    device: devices.Device
    rules_runs: int  # from its status (0: not said)
    rules_should: int  # its store's rules in force at HQ (0: the built-in rules)
    reader: str
    printer: str
    money_paused: str
    incidents: int
    silent: bool


def silent_minutes(db) -> int:
    text = get_setting(db, SILENT_KEY, "")
    return int(text) if text.isdigit() else SILENT_DEFAULT


def is_silent(last_contact: str, now: datetime, minutes: int) -> bool:
    """Silent when last heard more than `minutes` ago (exactly `minutes` is not yet silent); an
    unreadable time counts as silent."""
    try:
        heard = datetime.fromisoformat(last_contact.replace("Z", "+00:00"))
    except ValueError:
        return True
    return now - heard > timedelta(minutes=minutes)


def _incident_counts(ctx: Ctx, since: str) -> dict[str, int]:
    rows = ctx.db.all("SELECT device_id, COUNT(*) FROM incidents WHERE at >= ? GROUP BY device_id", (since,))
    return {device: int(count) for device, count in rows}


def fleet(ctx: Ctx, error: str = "", status: int = 200) -> Page:
    now = datetime.now(UTC)
    minutes = silent_minutes(ctx.db)
    heard = devices.health(ctx.db)
    counts = _incident_counts(ctx, (now - timedelta(days=INCIDENT_DAYS)).strftime("%Y-%m-%dT%H:%M:%S"))
    rows = []
    for d in devices.list_devices(ctx.db):
        if not ctx.user.sees_store(d.store):
            continue
        said = heard.get(d.device_id, {})
        found = rules_for_store(ctx.db, d.store)
        rows.append(Kiosk(d, int(said.get("rules_version") or _rules_of_last_event(ctx, d.device_id)),
                          found[1].version if found else BUILT_IN, str(said.get("reader", "")), str(said.get("printer", "")),
                          str(said.get("money_paused", "")), counts.get(d.device_id, 0),
                          is_silent(d.last_contact, now, minutes)))
    return Page("fleet.html", {"rows": rows, "minutes": minutes, "days": INCIDENT_DAYS, "error": error,
                               "saved": ctx.query("saved") == "1"}, status=status)


def _rules_of_last_event(ctx: Ctx, device: str) -> int:
    """A kiosk older than the status's rules_version: the version its newest transaction ran."""
    last = ctx.db.one("SELECT body FROM events WHERE device_id = ? ORDER BY seq DESC LIMIT 1", (device,))
    return int(json.loads(last[0]).get("rules_version", 0)) if last else 0


def set_silent(ctx: Ctx) -> Page:
    text = ctx.form.get("minutes", "").strip()
    if not text.isdigit() or not 1 <= int(text) <= SILENT_MAX:
        return fleet(ctx, f"minutes: a whole number from 1 to {SILENT_MAX}", 400)
    before = silent_minutes(ctx.db)

    def work(db) -> None:
        put_setting(db, SILENT_KEY, str(int(text)))
        audit.record(db, ctx.user.username, "fleet.silent_threshold", SILENT_KEY, {"minutes": before}, {"minutes": int(text)})

    ctx.db.run(work)
    return Page(redirect="/fleet?saved=1")


def incidents(ctx: Ctx) -> Page:
    """One kiosk's incidents, newest first (a store manager: their own stores' kiosks only)."""
    device = ctx.param("device")
    row = ctx.db.one("SELECT store FROM devices WHERE device_id = ?", (device,))
    if row is None:
        raise NotFound
    if not ctx.user.sees_store(row[0]):
        raise Denied
    items = list_incidents(ctx.db, device=device)[::-1][:200]
    return Page("fleet_incidents.html", {"device": device, "store": row[0], "items": items})


ROUTES = [
    ("GET", "/fleet", "fleet.view", fleet),
    ("POST", "/fleet/silent", "fleet.settings", set_silent),
    ("GET", "/fleet/{device}/incidents", "fleet.view", incidents),
]
