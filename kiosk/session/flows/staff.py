"""The staff / technician menu: device, reader, sync and hardware status, and reloading the
rules. A staff card opens it from idle (card checks); nothing here moves money."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kiosk.session.flows.base import FlowPart, Host
from kiosk.session.inputs import CardRead
from kiosk.session.states import S, SessionState
from kiosk.session.view import StaffView


class Staff(FlowPart):
    states = frozenset({S.staff_menu})

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.reader_status = "unknown"  # the kiosk's, not the visit's: kept across sessions
        self.errors: list[str] = []  # newest first, the last ten
        self.sale_credit: tuple[str, float] | None = None  # (staff id, until on the monotonic clock): flows/sale.py

    def note(self, text: str) -> None:
        self.errors = [text, *self.errors][:10]

    def reload_rules(self) -> bool:
        host = self.host
        if not host.can("reload_rules"):
            return False
        if host.reload_rules is None:
            host.hint("rules_reload_unavailable")
            return True
        try:
            rules = host.reload_rules()
        except Exception as exc:
            host.note_error(f"rules reload failed: {exc}")
            host.hint("rules_reload_failed", error=str(exc)[:200])
            return True
        host.hint("rules_reloaded", version=rules.version)
        return host.move("reload_rules")

    def view_part(self, state: SessionState, now: datetime) -> dict[str, Any]:
        if state is not S.staff_menu:
            return {}
        host = self.host
        store = host.store
        depth = store.outbox_depth() if hasattr(store, "outbox_depth") else 0
        contact = host.sync.last_contact() if host.sync is not None else None
        return {
            "staff": StaffView(
                device_id=host.ledger.device_id,
                reader=self.reader_status,
                hardware=host.feedback.describe(),
                outbox_depth=depth,
                last_hq_contact=contact.isoformat(timespec="seconds") if contact else "",
                hq_online=host.sync.online() if host.sync is not None else False,
                last_errors=tuple(self.errors),
                rules_version=host.ledger.rules.version,
            )
        }

    def other_card(self, state: SessionState, card: CardRead) -> bool:
        return state is S.staff_menu  # a card tapped while staff look at the menu is ignored
