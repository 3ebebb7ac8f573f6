"""A desk of demo cards for `kiosk run --simulate`: anyone can try the kiosk on a desktop by
tapping named cards with on-screen buttons or number keys. The desk stands where the reader
thread and the card layer stand on a real kiosk: it posts to the session what they would post
(a card presented or removed, a card written), so the session and everything after it are the
real ones."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from kiosk.session.inputs import CardIssued, CardKind, CardPresented, CardRead, CardRemoved

log = logging.getLogger(__name__)

DEMO_PIN = "246810"


@dataclass(frozen=True)
class DemoCard:
    name: str  # stable id, also the on-screen button's message id
    uid: str
    kind: CardKind


DEMO_CARDS = (
    DemoCard("Member card", "04A1B2C3", CardKind.MEMBER),
    DemoCard("Gold member", "04D4E5F6", CardKind.MEMBER),
    DemoCard("New card", "04778899", CardKind.BLANK),
    DemoCard("Lost card", "04BEEF01", CardKind.MEMBER),
    DemoCard("Other card", "0BADCAFE", CardKind.FOREIGN),
    DemoCard("Staff card", "5A5A5A5A", CardKind.STAFF),
)
STAFF_UIDS = frozenset(c.uid for c in DEMO_CARDS if c.kind is CardKind.STAFF)


def N_(message: str) -> str:
    return message


# the button labels, marked for the catalogue (DemoCard.name is the message id)
BUTTON_LABELS = (N_("Member card"), N_("Gold member"), N_("New card"), N_("Lost card"), N_("Other card"),
                 N_("Staff card"), N_("Remove card"))


class CardDesk:
    """Holds at most one card on the simulated reader, like a real field."""

    def __init__(self, post, cards: tuple[DemoCard, ...] = DEMO_CARDS):
        self.post = post
        self.cards = {c.name: c for c in cards}
        self.kinds = {c.uid: c.kind for c in cards}
        self.on_reader: str = ""

    def tap(self, name: str) -> None:
        """Put a card on the reader (the one there is lifted first); 'Remove card' lifts it."""
        if name == "Remove card":
            self.remove()
            return
        card = self.cards[name]
        if self.on_reader == card.uid:
            return
        self.remove()
        self.on_reader = card.uid
        self.post(CardPresented(CardRead(card.uid, self.kinds.get(card.uid, CardKind.FOREIGN))))

    def remove(self) -> None:
        if self.on_reader:
            uid, self.on_reader = self.on_reader, ""
            self.post(CardRemoved(uid))

    # the session's CardWriter: personalising a blank card always works here while it is on the reader
    def request_issue(self, uid: str, member_id: str, card_seq: int) -> None:
        if uid != self.on_reader:
            self.post(CardIssued(uid, "card_gone"))
            return
        self.kinds[uid] = CardKind.MEMBER
        self.post(CardIssued(uid))


def seed_demo_members(store, now: datetime) -> None:
    """Two members and a lost card, once, so a fresh data directory has someone to show."""
    ledger = store.ledger
    if ledger.state.card_account("04A1B2C3") is not None:
        return
    for uid, phone, name, topups in (
        ("04A1B2C3", "13800138000", "王小明", (20000, 50000)),
        ("04D4E5F6", "13900139000", "Li Na", (300000, 300000)),
        ("04BEEF01", "13700137000", "", ()),
    ):
        store.commit(ledger.sign_up(uid, 1, phone, DEMO_PIN, now, name=name, birthday=date(1990, 5, 12)))
        for fen in topups:
            store.commit(ledger.top_up(uid, fen, "demo-seed", now))
    store.commit(ledger.block_card("04BEEF01", "lost (demo)", now))
    log.info("demo members added to the simulated kiosk")
