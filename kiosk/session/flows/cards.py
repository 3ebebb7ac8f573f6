"""Card checks at the tap: whose card this is and where its session starts (member home,
sign-up offer, a card made at HQ to be written, staff menu) or why it goes no further
(blocked, refused, not recognised)."""

from __future__ import annotations

from kiosk.ledger.card_rule import judge_record
from kiosk.ledger.card_write import is_reserved_member_id
from kiosk.ledger.model import Card, CardStatus
from kiosk.session.flows.base import FlowPart
from kiosk.session.flows.card_write import CardWrite
from kiosk.session.flows.gifts import Gifts
from kiosk.session.flows.sale import arm_credit, take_armed_credit
from kiosk.session.inputs import SUSPECT_PROBLEMS, CardKind, CardRead
from kiosk.session.states import S, SessionState
from kiosk.session.sync_link import MemberQuestion
from kiosk.session.view import Message


class CardChecks(FlowPart):
    states = frozenset({S.idle, S.blocked, S.not_recognised, S.checking_card})

    def reset(self) -> None:
        self._question: MemberQuestion | None = None  # HQ asked about the card tapped, not answered yet
        self._card: CardRead | None = None

    def start_with(self, card: CardRead) -> None:
        """A card was tapped at idle: judge it and move to where its session starts (or, for our
        card whose member the replica does not hold, ask HQ first: `checking_card`)."""
        host = self.host
        visit = host.visit
        visit.uid, visit.card_present, visit.message = card.uid, True, None
        visit.card_counter = card.card_counter
        if host.staff_card(card):
            host.move("staff_card")
            arm_credit(host, card.uid)
            return
        take_armed_credit(host)
        known = host.ledger.state.cards.get(card.uid)
        if known is None and card.kind in (CardKind.MEMBER, CardKind.BLANK) and self._ask_hq(card):
            return
        self._judge(card, known, hq_says_unknown=getattr(host.sync, "ask_member", None) is None)

    def _ask_hq(self, card: CardRead) -> bool:
        """Our card (or a blank one: HQ's counter may have registered it), not in the replica:
        HQ is asked for its member while online, and the session waits in `checking_card` (the
        screen and the reader keep turning; at most 300 ms). True when the tap is taken care of.
        No offline first use: the PIN hash, balance and card status are HQ's, and a card never
        seen here has nothing local to check them against (a lost card could spend). A blank card
        offline is offered sign-up as always."""
        ask = getattr(self.host.sync, "ask_member", None)
        if ask is None:
            return False
        question = ask(card.uid, self.host.wake)
        if question.outcome() == "offline":
            if card.kind is CardKind.BLANK:
                return False
            self.host.record("card_unknown_offline", member_id=card.member_id or "")
            self._stop("foreign_card", Message("card_unknown_offline"))
            return True
        self._question, self._card = question, card
        self.host.move("ask_hq")
        return True

    def tick(self, state: SessionState) -> None:
        """In `checking_card`: HQ's answer (the member is in the replica now), or its timeout."""
        if state is not S.checking_card or self._question is None or self._card is None:
            return
        outcome = self._question.outcome()
        if outcome:
            card, self._question = self._card, None
            known = self.host.ledger.state.cards.get(card.uid) if outcome == "found" else None
            self._judge(card, known, hq_says_unknown=outcome == "not_found")

    def ending(self, state: SessionState, reason: str) -> None:
        if state is S.checking_card and self._question is not None:
            self._question.give_up()  # a late answer is still kept: the member's next tap reads it

    def _judge(self, card: CardRead, known: Card | None, hq_says_unknown: bool = False) -> None:
        """`hq_says_unknown`: HQ answered that it holds no such card (or this kiosk has no HQ),
        so a pre-issued card (a reserved member id, nobody signed up) may be sold here."""
        host = self.host
        reserved = card.kind is CardKind.MEMBER and is_reserved_member_id(card.member_id)
        if host.sync is not None and host.sync.is_blocked(card.uid):
            host.record("blocked_card_presented", status="blocked_by_hq", member_id=known.member_id if known else "")
            self._stop("blocked_card", Message("card_blocked"))
        elif known is not None and known.status is not CardStatus.ACTIVE:
            host.record("blocked_card_presented", status=str(known.status), member_id=known.member_id)
            self._stop("blocked_card", Message(f"card_{known.status}"))
        elif known is not None and known.awaiting_write and (card.kind is CardKind.BLANK or reserved):
            host.visit.reserved_id = card.member_id if reserved else ""  # made at HQ: written behind the PIN
            host.flow(CardWrite).start()
        elif card.kind is CardKind.MEMBER and known is not None and suspect(card, known):
            problem = suspect(card, known)
            host.record("card_suspect", problem=problem, member_id=known.member_id)
            self._stop("foreign_card", Message("card_refused", {"problem": problem}))
        elif card.kind is CardKind.MEMBER and known is not None:
            if known.awaiting_write:  # already carries the ledger's member: written here, answer late
                host.flow(CardWrite).seen_written(known)
            host.move("member_card")
            host.flow(Gifts).enter_home()
        elif known is None and (card.kind is CardKind.BLANK or (reserved and hq_says_unknown)):
            host.visit.reserved_id = card.member_id if reserved else ""  # a pre-issued card is sold like a blank one
            host.move("blank_card")
        else:
            code = {
                CardKind.MEMBER: "card_unknown_here",  # ours, but not (yet) in this replica
                CardKind.BLANK: "card_data_missing",  # known UID on a blank card: a copy?
            }.get(card.kind, "card_read_failed" if card.problem == "unreadable" else "card_not_recognised")
            if card.kind is CardKind.BLANK or card.problem in SUSPECT_PROBLEMS:
                host.record("card_suspect", card_kind=str(card.kind), problem=card.problem or "blank_with_known_uid")
            self._stop("foreign_card", Message(code, {"problem": card.problem} if card.problem else {}))

    def _stop(self, event: str, message: Message) -> None:
        self.host.visit.message = message
        self.host.feedback.error()
        self.host.move(event)


def suspect(card: CardRead, known: Card) -> str:
    """Why a card that reads as ours does not match the ledger's record of it ('' if it does):
    another member, an older card of the member, or an older copy of this card (its purse or
    tap counter below the highest the ledger has seen: a clone or a replayed image)."""
    verdict = judge_record(
        card.member_id or None,
        card.card_seq or None,
        card.card_counter,
        last_counter=known.card_counter,
        current_card_seq=known.card_seq,
        member_id=known.member_id,
    )
    return "" if verdict.accepted else str(verdict.reason)
