"""The demo kiosk behind `kiosk run --simulate`: anyone can try the real kiosk on a desktop.

Everything after the reader is the real thing: the simulated reader (kiosk.reader.simulated)
holds real card images in a wallet file, the card layer reads and personalises them with a
demo master key, and the session, store and screens are the ones a shop runs. The wallet's
named cards are tapped with on-screen buttons or the number keys."""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path

from kiosk.app.config import Config, parse_config
from kiosk.reader import chips
from kiosk.reader.card import issue_card
from kiosk.reader.keys import SiteKeys
from kiosk.reader.simulated import SimulatedReader, Wallet

log = logging.getLogger(__name__)

DEVICE_ID = "sim-01"
DEMO_PIN = "246810"  # the demo members' PIN, shown in the README; not a secret
STAFF_UID = "5A5A5A5A"
SYSTEM_ID = b"kiosk-demo"
REMOVE = "Remove card"


def N_(message: str) -> str:
    return message


# the wallet's card names, which are also the on-screen buttons' message ids, in button order
DEMO_CARDS = (N_("Member card"), N_("Gold member"), N_("New card"), N_("Lost card"), N_("Other card"),
              N_("Staff card"))
BUTTON_LABELS = (*DEMO_CARDS, N_("Remove card"))


def demo_config(data_dir: Path) -> Config:
    """A configuration for the demo kiosk in data_dir: its own master key (mode 600) and wallet."""
    data_dir = data_dir.absolute()  # the configuration takes absolute paths only
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = data_dir / "card-master.key"
    if not key.exists():
        SiteKeys.write_new(key)
    return parse_config(
        {
            "device": {"id": DEVICE_ID, "store": "demo", "data_dir": str(data_dir / "store")},
            "reader": {"driver": "simulated", "port": str(data_dir / "cards.json")},
            "secrets": {"card_master_key_file": str(key)},
            "session": {"staff_cards": [STAFF_UID]},
        },
        "<kiosk run --simulate>",
    )


def demo_keys(config: Config) -> SiteKeys:
    return SiteKeys.from_file(config.secrets.card_master_key_file, SYSTEM_ID)


def seed_demo(store, reader: SimulatedReader, keys: SiteKeys, now: datetime) -> None:
    """Once per data directory: two members and a lost card issued onto real card images, a blank
    card, another chain's card and a staff card, all kept in the wallet file."""
    wallet: Wallet = reader.wallet
    if all(name in wallet.cards for name in DEMO_CARDS):
        return
    ledger = store.ledger
    for name, phone, member_name, topups in (
        ("Member card", "13800138000", "王小明", (20000, 50000)),
        ("Gold member", "13900139000", "Li Na", (300000, 300000)),
        ("Lost card", "13700137000", "", ()),
    ):
        chip = wallet.add(name, chips.new_classic())
        uid = chip.uid.hex().upper()
        txn = ledger.sign_up(uid, 1, phone, DEMO_PIN, now, name=member_name, birthday=date(1990, 5, 12))
        store.commit(txn)
        reader.place(chip)
        issue_card(reader, reader.wait_for_card(0), keys, txn.member_id, 1, now.date(), DEVICE_ID)
        reader.remove()
        store.commit(ledger.new_member_gift(uid, now))
        for fen in topups:
            store.commit(ledger.top_up(uid, fen, "demo-seed", now))
    store.commit(ledger.block_card(wallet.cards["Lost card"].uid.hex().upper(), "lost (demo)", now))
    wallet.add("New card", chips.new_classic())
    wallet.add("Other card", chips.new_ntag424())
    wallet.add("Staff card", chips.new_classic(bytes.fromhex(STAFF_UID)))
    wallet.save()
    log.info("demo cards issued into %s", wallet.path)


class CardDesk:
    """The on-screen buttons' side of the simulated reader: tap a named card, or lift it."""

    def __init__(self, reader: SimulatedReader):
        self.reader = reader
        self.names = DEMO_CARDS

    def tap(self, name: str) -> None:
        if name == REMOVE:
            self.reader.remove()
        else:
            self.reader.place(name)
