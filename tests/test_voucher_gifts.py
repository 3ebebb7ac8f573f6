"""The gift vouchers a visit may give (kiosk/ledger/vouchers.py `_gifts`) at the edges mutation
testing left open: the birthday voucher of last year's gift but not the year before's, the spend
vouchers of the last five charges only, and the referrer's voucher only once the referrer's
reward is given and while the referrer has a working card."""

from __future__ import annotations

from datetime import UTC, datetime

from kiosk.ledger import charges, vouchers
from kiosk.ledger.operations import Ledger
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.rules import parse_rules
from kiosk.ledger.state import LedgerState
from kiosk.ledger.txn import Kind
from tests.test_ledger_properties import PIN
from tests.test_vouchers import JOINED, UID, _doc

FRIEND = "04000000000002"


def _ledger() -> Ledger:
    ledger = Ledger(LedgerState(), parse_rules(_doc()), "kiosk-1", b"pepper", FAST_FOR_TESTS)
    ledger.apply(ledger.sign_up(UID, 1, "13800000001", PIN, JOINED, birthday=JOINED.date().replace(year=1990),
                                salt=b"s" * 16))
    ledger.apply(ledger.top_up(UID, 200_000, "cash-1", JOINED))
    return ledger


MOST_DUE = 20  # a visit gives a few vouchers at most: a loop that does not end is a failure, not a hang


def given(ledger: Ledger, uid: str, at: datetime) -> list[tuple[str, str]]:
    """Every voucher the visit gives, applied: (member, reason); expiries are applied, not listed."""
    out = []
    for _ in range(MOST_DUE):
        txn = vouchers.next_due(ledger, uid, at)
        if txn is None:
            return out
        result = ledger.apply(txn)
        assert result.applied and not result.refused, result
        if txn.kind is Kind.VOUCHER_ISSUED:
            out.append((txn.member_id, txn.reason))
    raise AssertionError(f"still due after {MOST_DUE}: a gift given again and again")


def _birthday_gift_taken_2026() -> Ledger:
    ledger = _ledger()
    given(ledger, UID, JOINED)  # the new-member voucher
    ledger.apply(ledger.birthday_gift(UID, JOINED))  # the gift of 2026, its voucher left for later
    return ledger


def test_the_birthday_voucher_of_last_years_gift_is_still_given_the_year_before_s_is_not():
    member = _birthday_gift_taken_2026().state.cards[UID].member_id
    next_year = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)  # 08:00 local, 2027
    assert ("birthday:2026" in [r for _, r in given(_birthday_gift_taken_2026(), UID, next_year)])
    two_years_on = datetime(2028, 1, 1, 0, 0, tzinfo=UTC)
    assert given(_birthday_gift_taken_2026(), UID, two_years_on) == []
    assert given(_birthday_gift_taken_2026(), UID, JOINED) == [(member, "birthday:2026")]


def test_a_visit_looks_back_over_the_last_five_charges_for_their_spend_vouchers():
    ledger = _ledger()
    given(ledger, UID, JOINED)
    threshold = ledger.rules.vouchers.spend.min_fen
    for n in range(6):  # six charges whose vouchers a power cut left ungiven
        assert ledger.apply(charges.charge(ledger, UID, f"T1:A{n}", threshold, False, JOINED, pin_verified=True)).applied
    reasons = [r for _, r in given(ledger, UID, JOINED)]
    assert reasons == [f"spend:T1:A{n}" for n in range(1, 6)]  # the oldest of six is past the look-back


def _referred() -> Ledger:
    ledger = _ledger()
    given(ledger, UID, JOINED)
    code = ledger.referral_code(ledger.state.cards[UID].member_id)
    ledger.apply(ledger.sign_up(FRIEND, 1, "13900000000", PIN, JOINED, referral_code=code, salt=b"t" * 16))
    return ledger


def test_the_referrer_gets_a_voucher_once_the_referrers_reward_is_given():
    ledger = _referred()
    referrer = ledger.state.cards[UID].member_id
    friend = ledger.state.cards[FRIEND].member_id
    assert (referrer, f"referral:{friend}") not in given(ledger, FRIEND, JOINED)  # no reward yet
    while (reward := ledger.referral_reward(FRIEND, JOINED)) is not None:
        ledger.apply(reward)
    assert given(ledger, FRIEND, JOINED) == [(referrer, f"referral:{friend}")]
    assert given(ledger, FRIEND, JOINED) == []  # once


def test_no_referrer_voucher_while_the_referrer_has_no_working_card():
    ledger = _referred()
    while (reward := ledger.referral_reward(FRIEND, JOINED)) is not None:
        ledger.apply(reward)
    ledger.apply(ledger.block_card(UID, "lost", JOINED))
    assert [r for _, r in given(ledger, FRIEND, JOINED)] == ["new_member"]  # and none for the referrer


def test_a_member_nobody_referred_gives_no_referral_voucher():
    ledger = _ledger()
    given(ledger, UID, JOINED)
    ledger.apply(ledger.sign_up(FRIEND, 1, "13900000000", PIN, JOINED, salt=b"t" * 16))
    assert [r for _, r in given(ledger, FRIEND, JOINED)] == ["new_member"]
