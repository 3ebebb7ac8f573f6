"""Protocol v2's messages refuse what they cannot use, naming the field (every outside input is
hostile until checked): a chunk index past the count, a delta's `applied` that is not seqs, a row
the ledger codec refuses, an unknown table in `rows`, a member answer for a malformed uid, a
`deltas_unavailable` with a reason it does not know."""

from __future__ import annotations

import json

import pytest

from kiosk.sync import messages as m
from tests.sync.test_messages import samples

SAMPLES = {msg.TYPE: msg for msg in samples()}


def _tampered(name: str, change) -> bytes:
    data = json.loads(m.encode(SAMPLES[name]))
    change(data)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("name", "change", "field"),
    [
        ("snapshot_chunk", lambda d: d.update(index=3), "index"),
        ("snapshot_chunk", lambda d: d.update(stock={"mug": -1}), "stock"),
        ("account_delta", lambda d: d.update(applied={"D1": True}), "applied"),
        ("account_delta", lambda d: d["rows"]["accounts"][0].update(balance_fen="12"), "rows.accounts[0]"),
        ("account_delta", lambda d: d["rows"].update(vouchers=[]), "rows.vouchers"),
        ("snapshot_request", lambda d: d.update(count=65), "count"),
        ("member", lambda d: d.update(card_uid="04a1b2c3"), "card_uid"),
        ("member_request", lambda d: d.update(card_uid="x"), "card_uid"),
        ("deltas_unavailable", lambda d: d.update(reason="gone"), "reason"),
        ("deltas_unavailable", lambda d: d.update(after=-1), "after"),
        ("deltas_unavailable", lambda d: d.update(store="S 1"), "store"),
    ],
)
def test_a_bad_field_is_refused_by_name(name, change, field):
    with pytest.raises(m.MessageError) as err:
        m.decode(_tampered(name, change), name)
    assert err.value.field.startswith(field), err.value


def test_the_samples_are_accepted_as_they_are():
    for name in ("snapshot_chunk", "account_delta", "snapshot_request", "member", "member_request", "deltas_unavailable"):
        assert m.decode(_tampered(name, lambda d: None), name) == SAMPLES[name]
