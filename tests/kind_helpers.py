"""One short script of operations that makes a transaction of every Kind, through the property
tests' own runner (so a Kind the runner cannot make fails), for the kind-completeness tests."""

from __future__ import annotations

from datetime import date

from tests.test_ledger_properties import UIDS, run

_STEPS = [
    ("sign_up", UIDS[0], date(1990, 3, 4)),  # the runner starts on 1 March: the birthday is near
    ("fee", UIDS[0], 3_800),
    ("gift", UIDS[0]),
    ("birthday", UIDS[0]),
    ("top_up", UIDS[0], 100_000),
    ("spend", UIDS[0], 1_000, True),
    ("vouchers", UIDS[0]),  # the new-member voucher
    ("charge_v", UIDS[0], 12_800, True, "O1", 0, 4),  # with it and points as cash
    ("issue", UIDS[0], "thanks5"),
    ("refund", "O1", 6_000, "R1"),
    ("charge", UIDS[0], 2_000, False, "O2"),
    ("void", "O2"),
    ("redeem", UIDS[0], "coffee", 1, 0),
    ("pin", UIDS[0], False),
    ("pin", UIDS[0], True),
    ("new_pin", UIDS[0], "975318"),
    ("pin", UIDS[0], True),  # the old PIN: refused now
    ("check_in", UIDS[0]),
    ("profile", UIDS[0], "王芳", date(1990, 3, 5)),
    ("survey", UIDS[0], 5, "fast_service"),
    ("referred_sign_up", UIDS[1], UIDS[0]),
    ("referral", UIDS[1]),
    ("referral", UIDS[1]),
    ("vouchers", UIDS[1]),  # the new member's voucher
    ("vouchers", UIDS[1]),  # the referrer's
    ("purse", UIDS[0], 3),
    ("adjust", UIDS[0], 100, 10),
    ("block", UIDS[0]),
    ("unblock", UIDS[0]),
    ("replace", UIDS[0], UIDS[2]),
    ("card_written", UIDS[2]),  # the new card, made at the counter, written at a kiosk
    ("counter_fee", UIDS[2], "replacement"),
    ("exchange", UIDS[2], UIDS[3]),
    ("counter_fee", UIDS[3], "exchange"),
    ("return", UIDS[3]),
    ("wait", 60 * 24 * 400),
    ("expire", UIDS[1]),
    ("vouchers", UIDS[1]),  # the referrer's voucher, long run out
]
# A minute between steps, so each txn's time differs from the last visit's.
EVERY_KIND_SCRIPT = [op for step in _STEPS for op in (step, ("wait", 1))]


def every_kind_journal():
    """(the kiosk's ledger, its journal) after the script."""
    ledger, journal, _, _ = run(EVERY_KIND_SCRIPT)
    return ledger, journal
