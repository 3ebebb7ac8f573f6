"""HQ's voucher campaign (`kiosk hq vouchers issue --segment dormant --type winback20`) on SQLite
and PostgreSQL: exactly the members in the segment get one voucher each, as HQ's own txns in
its history; running the campaign again gives nobody a second; a bad segment or type changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kiosk.hq import admin
from kiosk.hq import ledger as hq
from kiosk.hq.admin import AdminError
from kiosk.hq.db import open_database
from kiosk.hq.schema import create_schema
from kiosk.hq.vouchers import SEGMENTS, issue_to_segment, members_in, segment_of
from kiosk.ledger.model import MemberStatus, VoucherStatus
from kiosk.ledger.state import LedgerState
from kiosk.ledger.txn import Kind, txn_from_dict
from tests.hq.test_hq_commands import hq_cli

NOW = datetime.now(UTC)
DAY = timedelta(days=1)


def test_a_win_back_campaign_reaches_exactly_the_dormant_members_once(hq_url):
    db = open_database(hq_url)
    create_schema(db)
    # default cuts: active < 30 days <= at risk < 90 <= dormant < 180 <= lost
    for uid, phone, age in (("04A1B2C3D4E501", "13800000001", 90 * DAY), ("04A1B2C3D4E502", "13800000002", 179 * DAY),
                            ("04A1B2C3D4E503", "13800000003", 89 * DAY), ("04A1B2C3D4E504", "13800000004", 180 * DAY)):
        admin.register_member(db, uid, phone, "246810", now=NOW - age - timedelta(minutes=5))
    with pytest.raises(AdminError) as bad:
        issue_to_segment(db, "dormant", "nope")
    assert bad.value.code == "unknown_voucher_type" and "winback20" in bad.value.detail
    assert hq.event_counts(db)["hq"][0] == 4  # nothing was issued

    out = hq_cli("vouchers", "issue", "--segment", "dormant", "--type", "winback20", "--campaign", "spring", db=hq_url)
    assert out.returncode == 0, out.stderr
    assert "2 voucher(s)" in out.stdout
    again = issue_to_segment(db, "dormant", "winback20", "spring")
    assert (again.issued, again.skipped) == (0, 2)

    state = hq.load_state(db)
    held = {state.cards[uid].member_id: state.accounts[state.cards[uid].member_id].vouchers
            for uid in ("04A1B2C3D4E501", "04A1B2C3D4E502", "04A1B2C3D4E503", "04A1B2C3D4E504")}
    got = {m: [(v.type, v.value_fen, v.status, v.reason) for v in vs] for m, vs in held.items() if vs}
    assert got == {m: [("winback20", 2000, VoucherStatus.VALID, "campaign:dormant:spring")]
                   for m in ("M-hq-1", "M-hq-2")}
    # HQ's own txns, in its history: a kiosk replaying that history holds the same vouchers
    events = [txn_from_dict(__import__("json").loads(b)) for (b,) in db.all(
        "SELECT body FROM events WHERE device_id = 'hq' ORDER BY seq")]
    assert [t.kind for t in events[4:]] == [Kind.VOUCHER_ISSUED] * 2
    replayed = LedgerState()
    for t in events:
        replayed.apply(t)
    assert {m: replayed.accounts[m].vouchers for m in got} == {m: held[m] for m in got}
    voucher = held["M-hq-1"][0]
    assert voucher.expires_at - voucher.issued_at <= 31 * DAY
    db.close()


def test_the_segment_scan_finds_exactly_the_segment_at_every_cut(hq_url):
    """The scan's SQL prefilter (a day wider than each cut) never loses a member: members whose
    last visit is a second either side of each cut, one who closed, each in exactly one segment,
    the one segment_of (the report's rule) gives them."""
    db = open_database(hq_url)
    create_schema(db)
    cuts = admin.current_rules(db).segments
    ages = [timedelta(0)] + [timedelta(days=d) + s for d in (cuts.active_days, cuts.at_risk_days, cuts.dormant_days)
                             for s in (-timedelta(seconds=1), timedelta(0), timedelta(seconds=1))]
    uids = [f"04C1B2C3D4E5{n:02X}" for n in range(len(ages) + 1)]
    for n, (uid, age) in enumerate(zip(uids, [*ages, timedelta(days=1)], strict=True)):
        admin.register_member(db, uid, f"1370000{n:04d}", "246810", now=NOW - age)
    admin.return_card(db, uids[-1], now=NOW)  # closed: lost whatever its last visit
    state = hq.load_state(db)
    expected = {s: set() for s in SEGMENTS}
    for uid in uids:
        member = state.cards[uid].member_id
        closed = state.members[member].status is MemberStatus.CLOSED
        expected[segment_of(state.accounts[member].last_visit, closed, cuts, NOW)].add(member)
    assert all(expected.values())  # each segment has members to find
    found = {s: {c.member_id for c in members_in(db, s, "x", admin.current_rules(db), NOW)} for s in SEGMENTS}
    assert found == expected
    db.close()


def test_a_long_campaign_says_how_far_it_got_after_each_batch(hq_url, monkeypatch, capsys):
    from kiosk.hq import vouchers
    from kiosk.hq.command import campaign_progress

    db = open_database(hq_url)
    create_schema(db)
    for n in range(3):
        admin.register_member(db, f"04D1B2C3D4E5{n:02X}", f"1360000{n:04d}", "246810", now=NOW - 100 * DAY)
    monkeypatch.setattr(vouchers, "BATCH", 2)
    seen: list[tuple[int, int]] = []
    say = campaign_progress(every_s=0)
    result = issue_to_segment(db, "dormant", "winback20", "autumn",
                              progress=lambda so_far: (seen.append((so_far.issued, so_far.skipped)), say(so_far)))
    assert seen == [(2, 0), (3, 0)] and (result.issued, result.skipped) == seen[-1]
    assert capsys.readouterr().err.splitlines()[-1].startswith("... 3 issued, 0 skipped so far")
    db.close()
