"""The staff / technician menu: device, reader, sync and hardware status, reloading the rules,
and a member's notes (the member taps their card; HQ sends only this store's members' notes).
A staff card opens it from idle (card checks); nothing here moves money."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.session.flows.base import FlowPart, Host
from kiosk.session.inputs import CardKind, CardRead
from kiosk.session.present import mask_phone
from kiosk.session.states import S, SessionState
from kiosk.session.view import StaffNotesView, StaffView


@dataclass
class NotesShown:
    member_id: str = ""
    member_name: str = ""
    notes: tuple = ()


class Staff(FlowPart):
    states = frozenset({S.staff_menu, S.staff_notes})

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.reader_status = "unknown"  # the kiosk's, not the visit's: kept across sessions
        self.errors: list[str] = []  # newest first, the last ten
        self.sale_credit: tuple[str, float] | None = None  # (staff id, until on the monotonic clock): flows/sale.py

    def reset(self) -> None:
        self.shown = NotesShown()

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

    def open_notes(self) -> bool:
        """"Member notes": the staff card may be lifted; the member's card tapped next shows theirs."""
        if not self.host.can("open_notes"):
            return False
        self.shown = NotesShown()
        return self.host.move("open_notes")

    def view_part(self, state: SessionState, now: datetime) -> dict[str, Any]:
        if state is S.staff_notes:
            shown = self.shown
            return {"staff_notes": StaffNotesView(shown.member_id, shown.member_name, shown.notes)}
        if state is not S.staff_menu:
            return {}
        host = self.host
        store = host.store
        depth = store.outbox_depth() if hasattr(store, "outbox_depth") else 0
        contact = host.sync.last_contact() if host.sync is not None else None
        loading = getattr(store, "loading", None)
        chunks = (loading.progress.next_index, loading.progress.chunks) if loading is not None else (0, 0)
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
                replica_chunks=chunks,
                replica_loaded=bool(getattr(getattr(store, "hq_feed", None), "snapshot_id", 0)),
            )
        }

    def keeps_lifted_card(self, state: SessionState) -> bool:
        return state is S.staff_notes  # the staff card makes way for the member's

    def other_card(self, state: SessionState, card: CardRead) -> bool:
        if state is S.staff_notes:
            self._show_notes(card)
        return True  # a card tapped while staff look at the menu is ignored

    def _show_notes(self, card: CardRead) -> None:
        host = self.host
        found = host.ledger.state.card_account(card.uid) if card.kind is CardKind.MEMBER else None
        if found is None:
            self.shown = NotesShown()
            host.hint("card_unknown_here")
            return
        member = found[1]
        notes = host.sync.member_notes(member.member_id) if host.sync is not None else ()
        name = member.name or mask_phone(member.phone)
        self.shown = NotesShown(member.member_id, name, tuple(sorted(notes, key=lambda n: -n.note_id)))
        host.visit.message = None
        host.touched()
