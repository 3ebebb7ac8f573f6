"""One card-UID rule (kiosk.ledger.uid) for the ledger's codec, the wire and the configuration."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kiosk.ledger.txn import Kind, Txn, TxnFormatError, txn_from_dict, txn_to_dict
from kiosk.ledger.uid import is_card_uid
from kiosk.session.settings import parse_session
from kiosk.sync.messages import is_uid

SAMPLES = {
    "DEADBEEF": True, "04A1B2C3D4E5F6": True, "04112233445566778899": True,
    "deadbeef": False, "DEADBEEF\n": False, "DEADBE": False, "DEADBEEF00": False,
    "04A1B2C3D4E5F6G7": False, "": False, "0xDEADBEEF": False,
}


def _codec_accepts(uid: str) -> bool:
    record = txn_to_dict(Txn("k:1", "k", 1, datetime(2026, 1, 1, tzinfo=UTC), Kind.TOP_UP,
                             "M-1", "DEADBEEF", 0, 100, 0, 0))
    try:
        txn_from_dict({**record, "card_uid": uid})
    except TxnFormatError as exc:
        assert exc.field == "card_uid"
        return False
    return True


def _config_accepts(uid: str) -> bool:
    from kiosk.app.config import ConfigError

    try:
        return uid in parse_session({"staff_cards": [uid]}).staff_uids
    except ConfigError:
        return False


@pytest.mark.parametrize("uid,valid", SAMPLES.items())
def test_every_room_checks_a_uid_by_the_ledgers_rule(uid, valid):
    assert is_card_uid(uid) is valid
    assert _codec_accepts(uid) is valid
    assert is_uid(uid) is valid
    if uid == uid.strip().upper():  # the config normalises case and spacing before checking
        assert _config_accepts(uid) is valid
