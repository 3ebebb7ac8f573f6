"""What a flow may ask of the session (`Host`), and the hooks the session asks of a flow
(`FlowPart`). A flow owns its states (SessionMachine's, named in SessionState) and its slice of
the visit's data; the session keeps the plumbing (inbox, tap routing, timeouts, publishing)
and asks the flow that owns the current state about the rest."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar, Protocol, TypeVar

from kiosk.ledger.clock_trust import ClockVerdict
from kiosk.ledger.operations import Ledger
from kiosk.ledger.rules import Rules
from kiosk.ledger.txn import Txn
from kiosk.payment.port import PaymentMethod
from kiosk.receipt.printer import ReceiptPrinter
from kiosk.receipt.receipt import Shop
from kiosk.session.clock import Clock
from kiosk.session.flow import Visit
from kiosk.session.inputs import CardRead
from kiosk.session.ports import CardWriter, Feedback, StoreLike
from kiosk.session.settings import SessionSettings
from kiosk.session.states import SessionState
from kiosk.session.store_fault import StoreHealth
from kiosk.session.sync_link import SyncLink

F = TypeVar("F", bound="FlowPart")


class Host(Protocol):
    """The session as its flows see it (kiosk.session.session.Session implements it)."""

    @property
    def clock(self) -> Clock: ...
    @property
    def settings(self) -> SessionSettings: ...
    @property
    def payments(self) -> Mapping[str, PaymentMethod]: ...
    @property
    def card_writer(self) -> CardWriter | None: ...
    @property
    def feedback(self) -> Feedback: ...
    @property
    def sync(self) -> SyncLink | None: ...
    @property
    def printer(self) -> ReceiptPrinter: ...
    @property
    def shop(self) -> Shop: ...
    @property
    def reload_rules(self) -> Callable[[], Rules] | None: ...
    @property
    def visit(self) -> Visit: ...

    @property
    def store(self) -> StoreLike: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def state(self) -> SessionState: ...

    @property
    def store_health(self) -> StoreHealth: ...
    def now(self) -> datetime: ...
    def clock_verdict(self) -> ClockVerdict: ...
    def flow(self, kind: type[F]) -> F: ...
    def move(self, event: str) -> bool: ...
    def can(self, event: str) -> bool: ...
    def refuse(self, code: str, **params: Any) -> bool: ...
    def hint(self, code: str, **params: Any) -> None: ...
    def commit(self, txn: Txn) -> bool: ...
    def record(self, kind: str, **detail: Any) -> None: ...
    def note_error(self, text: str) -> None: ...
    def touched(self) -> None: ...
    def staff_card(self, card: CardRead) -> bool: ...
    def wake(self) -> None: ...


class FlowPart:
    """One screen flow. Subclasses list the states they own and override the hooks they need;
    every hook is asked only while the session is in one of the flow's own states (except
    `view_part`, asked always, and `reset`, at the end of every session)."""

    states: ClassVar[frozenset[SessionState]] = frozenset()

    def __init__(self, host: Host) -> None:
        self.host = host
        self.reset()

    def reset(self) -> None:
        """The session ended: drop this flow's slice of the visit."""

    def view_part(self, state: SessionState, now: datetime) -> dict[str, Any]:
        """SessionView fields this flow fills in `state` (any state; {} when none)."""
        return {}

    def deadline(self, state: SessionState) -> float | None:
        """When this state gives up, on the monotonic clock (seconds), if not the inactivity
        countdown (None: the default)."""
        return None

    def tick(self, state: SessionState) -> None:
        """Called at every pump() in this flow's states (e.g. poll a pending payment)."""

    def timed_out(self, state: SessionState) -> bool:
        """The deadline passed; True when the flow dealt with it (else the session ends)."""
        return False

    def keeps_lifted_card(self, state: SessionState) -> bool:
        """True when lifting the card must not end the session in this state."""
        return False

    def other_card(self, state: SessionState, card: CardRead) -> bool:
        """Another card was tapped mid-flow; True when the flow dealt with it (else the first
        card's session ends and the new card starts one)."""
        return False

    def ending(self, state: SessionState, reason: str) -> None:
        """The session ends from this state (finished, timed out, card lifted, error)."""

    def going_back(self, state: SessionState) -> None:
        """The member goes back one step from this state."""

    def member_name(self, uid: str) -> str:
        """The name of the member holding card `uid`, for a receipt ("" for a card the ledger
        does not hold)."""
        found = self.host.ledger.state.card_account(uid)
        return found[1].name if found else ""
