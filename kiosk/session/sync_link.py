"""What the session needs to know from the sync client (kiosk/sync, its own thread): HQ's
blocked list, whether money may be taken now, when HQ was last heard from and how long it has
been out of reach (for the offline spend limit).

`SyncClientLink` adapts kiosk.sync.client.SyncClient; reads are of immutable values the client
replaces whole, so the session may call them from its own thread."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol


class SyncLink(Protocol):
    def is_blocked(self, uid: str) -> bool:
        """HQ's lost-card list names this card (it may not be blocked in the local ledger yet)."""
        ...

    def money_paused(self) -> str:
        """'' when top-ups may be taken, else a reason code (disk_nearly_full, outbox_full...)."""
        ...

    def last_contact(self) -> datetime | None:
        """HQ's last ack, as a wall time (shown to staff)."""
        ...

    def online(self) -> bool: ...

    def offline_for(self, now: datetime) -> timedelta | None:
        """How long HQ has been unreachable; None while HQ answers (not only the broker). `now` is the session's wall time,
        for a link that knows only HQ's last word as a wall time; the sync client's link measures
        on its monotonic clock (kiosk/sync/hq_contact.py) and does not need it."""
        ...

    def report_store_fault(self, reason: str) -> None:
        """The store cannot save (reason code) or can again (''): told to HQ in the status."""
        ...

    def member_notes(self, member_id: str) -> tuple:
        """HQ's notes on a member of this store (NoteLine values), for the staff menu only."""
        ...

    def ask_member(self, uid: str, wake: Callable[[], None]) -> MemberQuestion:
        """Ask HQ for the member of a card not in the replica, without waiting; `wake` is called
        (from another thread) when the answer is in (kiosk/sync/member_fetch.py)."""
        ...


class MemberQuestion(Protocol):
    def outcome(self) -> str:
        """"" while waiting; then "found" (the member is in the replica now), "not_found",
        "offline" or "timeout" (300 ms without an answer)."""
        ...

    def give_up(self) -> None:
        """The tap is over; an answer that still comes is kept for the next tap."""
        ...


class SyncClientLink:
    def __init__(self, client) -> None:
        self.client = client

    def is_blocked(self, uid: str) -> bool:
        return self.client.blocked.is_blocked(uid)

    def money_paused(self) -> str:
        return self.client.money_paused

    def last_contact(self) -> datetime | None:
        return self.client.last_ack_at

    def online(self) -> bool:
        return bool(self.client.connected)

    def offline_for(self, now: datetime) -> timedelta | None:
        return self.client.hq_contact.offline_for(self.online(), self.client.hq_answers_within())

    def report_store_fault(self, reason: str) -> None:
        self.client.store_fault = reason

    def member_notes(self, member_id: str) -> tuple:
        return self.client.notes.of(member_id)

    def ask_member(self, uid: str, wake: Callable[[], None]) -> MemberQuestion:
        return self.client.members.ask(uid, wake)
