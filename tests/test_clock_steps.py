"""The wall clock jumps (issue 17 item 3): a Raspberry Pi boots at 1970 or at its last shutdown
time until NTP answers, and NTP may step it back. Every time-dependent rule is tried across a
step of -1 day, +1 year and from 1970: screen timeouts (a monotonic clock), PIN lockout, daily
check-in, birthday window, points expiry, the txn times that go to HQ. Money is neither refused
nor given because the clock jumped; txns made on an untrusted clock are marked."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from kiosk.ledger.clock_trust import TRUSTED, judge_clock
from kiosk.ledger.operations import Ledger, Refused
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import LedgerState
from kiosk.ledger.txn import Kind, TxnFormatError, txn_from_dict, txn_to_dict
from kiosk.session.clock import ManualClock
from kiosk.store.store import Store
from tests.session_support import make_kiosk, staff_card

T = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, 0, 0, 30, tzinfo=UTC)
DAY, YEAR = timedelta(days=1), timedelta(days=365)
STEPS = {"back a day": -DAY, "forward a year": YEAR, "to 1970": EPOCH - T}
UID = "04A1B2C3"


def _ledger(**birthday) -> Ledger:
    ledger = Ledger(LedgerState(), default_rules(), "K1", b"pepper", FAST_FOR_TESTS)
    ledger.apply(ledger.sign_up(UID, 1, "13800000001", "246813", T - 30 * DAY, name="M", **birthday))
    return ledger


# -- the judge --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "latest", "ntp", "why"),
    [
        (EPOCH, None, None, "before this software was built"),
        (T - DAY, T, None, "before the latest transaction"),
        (T, T - DAY, False, "NTP has not synchronised"),
        (T + YEAR, T, False, "NTP has not synchronised"),
    ],
)
def test_an_untrusted_clock_is_named(now, latest, ntp, why):
    verdict = judge_clock(now, built=T - YEAR, latest_seen=latest, ntp_synced=ntp)
    assert not verdict.trusted and why in verdict.reason
    assert verdict.floor == max(T - YEAR, latest or T - YEAR)


@pytest.mark.parametrize("ntp", [True, None])
def test_a_clock_after_the_build_and_the_ledger_is_trusted(ntp):
    assert judge_clock(T, built=T - YEAR, latest_seen=T + timedelta(minutes=9), ntp_synced=ntp) == TRUSTED


def test_exactly_at_the_build_time_is_trusted_one_second_before_is_not():
    built = T - YEAR
    assert judge_clock(built, built=built, latest_seen=None, ntp_synced=None) == TRUSTED
    verdict = judge_clock(built - timedelta(seconds=1), built=built, latest_seen=None, ntp_synced=None)
    assert verdict.trusted is False and verdict.floor == built


def test_exactly_ten_minutes_behind_the_latest_is_trusted_one_second_more_is_not():
    built = T - YEAR
    assert judge_clock(T - timedelta(minutes=10), built=built, latest_seen=T, ntp_synced=True) == TRUSTED
    verdict = judge_clock(T - timedelta(minutes=10, seconds=1), built=built, latest_seen=T, ntp_synced=True)
    assert verdict.trusted is False and verdict.floor == T and "before the latest transaction" in verdict.reason


def test_ntp_unknown_is_trusted_ntp_false_is_not():
    assert judge_clock(T, built=T - YEAR, latest_seen=None, ntp_synced=None) == TRUSTED
    verdict = judge_clock(T, built=T - YEAR, latest_seen=None, ntp_synced=False)
    assert verdict.trusted is False and verdict.floor == T - YEAR


def test_a_naive_time_is_a_programming_error():
    with pytest.raises(ValueError, match="UTC and timezone-aware"):
        judge_clock(T.replace(tzinfo=None), built=T - YEAR, latest_seen=None, ntp_synced=True)


def test_the_store_keeps_its_latest_transaction_time_across_a_checkpoint_and_a_reopen(tmp_path):
    """The clock check's "latest time seen" without reading every member (a million on disk)."""
    store = Store.open(tmp_path, "K1", pin_params=FAST_FOR_TESTS)
    assert store.latest_txn_at is None
    txn = store.ledger.sign_up(UID, 1, "13800000001", "246813", T)
    store.commit(txn)
    store.commit(store.ledger.top_up(UID, 10_000, "P", T + timedelta(hours=1)))
    assert store.latest_txn_at == T + timedelta(hours=1)
    store.checkpoint()
    store.close()
    with Store.open(tmp_path, "K1", pin_params=FAST_FOR_TESTS) as again:  # the checkpoint absorbed both: the meta keeps the time
        assert again.latest_txn_at == T + timedelta(hours=1)
        again.commit(again.ledger.top_up(UID, 1000, "Q", T + timedelta(hours=2)))
    with Store.open(tmp_path, "K1", pin_params=FAST_FOR_TESTS) as third:  # replayed from the journal
        assert third.latest_txn_at == T + timedelta(hours=2)


# -- the ledger's date rules across steps -------------------------------------------------------


@pytest.mark.parametrize("step", STEPS.values(), ids=STEPS)
def test_a_pin_lock_never_outlasts_the_lockout_whatever_the_clock_did(step):
    ledger = _ledger()
    for _ in range(5):
        ok, txn = ledger.check_pin(UID, "000000", T)
        ledger.apply(txn)
    _, member, _ = ledger.lookup(UID)
    assert ledger.pin_locked(member, T) and ledger.pin_locked(member, T + timedelta(minutes=14))
    assert not ledger.pin_locked(member, T + step), "a member locked out of their money by a clock step"
    ok, txn = ledger.check_pin(UID, "000000", T + step)  # the failures still count: locked again
    assert not ok and txn.pin_locked_until == T + step + timedelta(minutes=15)


def test_a_lock_set_at_1970_is_over_once_ntp_sets_the_clock():
    ledger = _ledger()
    for _ in range(5):
        ledger.apply(ledger.check_pin(UID, "000000", EPOCH)[1])
    _, member, _ = ledger.lookup(UID)
    assert ledger.pin_locked(member, EPOCH) and not ledger.pin_locked(member, T)


@pytest.mark.parametrize("step", [-DAY, EPOCH - T], ids=["back a day", "to 1970"])
def test_a_check_in_after_the_clock_went_back_is_not_a_second_one(step):
    ledger = _ledger()
    ledger.apply(ledger.check_in(UID, T))
    with pytest.raises(Refused, match="already_checked_in"):
        ledger.check_in(UID, T + step)
    ledger.apply(ledger.check_in(UID, T + DAY))  # the next real day still counts


def test_a_birthday_gift_is_not_given_again_for_a_year_the_clock_went_back_to():
    ledger = _ledger(birthday=date(1990, 1, 2))
    at_birthday = datetime(2026, 1, 2, 4, tzinfo=UTC)
    ledger.apply(ledger.birthday_gift(UID, at_birthday))
    for wrong in (datetime(1970, 1, 2, 4, tzinfo=UTC), at_birthday - YEAR):
        assert not ledger.view(UID, wrong).birthday_gift_due
        with pytest.raises(Refused):
            ledger.birthday_gift(UID, wrong)
    assert ledger.view(UID, at_birthday + YEAR).birthday_gift_due  # next year's is due


# -- the txn mark and its codec ---------------------------------------------------------------


def test_the_untrusted_mark_round_trips_and_is_left_out_when_false():
    ledger = _ledger()
    txn = ledger.top_up(UID, 10_000, "P", T)
    assert "clock_untrusted" not in txn_to_dict(txn)  # journal bytes of a trusted txn unchanged
    marked = replace(txn, clock_untrusted=True)
    assert txn_to_dict(marked)["clock_untrusted"] is True
    assert txn_from_dict(json.loads(json.dumps(txn_to_dict(marked)))) == marked


@pytest.mark.parametrize("bad", [1, 0, "true", None])
def test_the_untrusted_mark_is_decoded_strictly(bad):
    body = dict(txn_to_dict(_ledger().top_up(UID, 10_000, "P", T)), clock_untrusted=bad)
    with pytest.raises(TxnFormatError, match="clock_untrusted: must be true or false"):
        txn_from_dict(body)


# -- the session across steps -------------------------------------------------------------------


@pytest.fixture
def kiosk(tmp_path):
    return make_kiosk(tmp_path)


def _untrusted(kiosk):
    """As kiosk.app.clock_trust.SystemClockTrust says it while NTP has not synchronised."""
    kiosk.session.clock_trust = lambda now: judge_clock(
        now, built=EPOCH, latest_seen=kiosk.store.latest_txn_at, ntp_synced=False
    )


@pytest.mark.parametrize("step", STEPS.values(), ids=STEPS)
def test_a_payment_in_progress_survives_a_clock_step(kiosk, step):
    chip = kiosk.member(balance_fen=10_000)
    kiosk.tap(chip)
    assert kiosk.session.start_topup() and kiosk.session.choose_amount(5000)
    assert kiosk.session.pay("staff_cash")
    kiosk.wait(30)
    kiosk.clock.step(step.total_seconds())
    kiosk.run(1)
    assert kiosk.state == "paying" and kiosk.session.view.seconds_left == 90
    kiosk.lift()
    kiosk.tap(staff_card())
    assert kiosk.state == "done" and kiosk.account(chip).balance_fen == 15_000


@pytest.mark.parametrize("step", STEPS.values(), ids=STEPS)
def test_the_inactivity_timeout_counts_real_seconds_across_a_step(kiosk, step):
    kiosk.tap(kiosk.member())
    kiosk.wait(10)
    kiosk.clock.step(step.total_seconds())
    kiosk.run(1)
    assert kiosk.state == "home" and kiosk.session.view.seconds_left == 20
    kiosk.wait(19)
    assert kiosk.state == "home"
    kiosk.wait(1)
    assert kiosk.state == "idle" and kiosk.session.view.message.code == "timeout"


def test_the_manual_clock_steps_only_the_wall_clock():
    clock = ManualClock(T)
    clock.step(-86_400)
    assert clock.now() == T - DAY and clock.monotonic() == 0
    clock.advance(5)
    assert clock.monotonic() == 5
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_a_top_up_at_1970_goes_through_marked_and_never_dated_before_the_ledger(kiosk):
    chip = kiosk.member(balance_fen=10_000)
    latest = kiosk.store.latest_txn_at
    kiosk.clock.set(EPOCH)
    _untrusted(kiosk)
    kiosk.tap(chip)
    assert kiosk.session.start_topup() and kiosk.session.choose_amount(5000)
    assert kiosk.session.pay("staff_cash")
    kiosk.lift()
    kiosk.tap(staff_card())
    assert kiosk.state == "done" and kiosk.account(chip).balance_fen == 15_000  # money not refused
    top_up = kiosk.store.outbox()[-1]
    assert top_up.kind is Kind.TOP_UP and top_up.clock_untrusted
    assert top_up.at >= latest > EPOCH  # txn times never run backwards
    assert all(not t.clock_untrusted for t in kiosk.store.outbox()[:-1])


def test_date_rules_wait_for_a_trusted_clock(kiosk):
    """A year ahead on a clock NTP has not confirmed: points do not expire, no birthday gift, no
    check-in that would block the real days; once trusted, they come back."""
    ahead = kiosk.clock.now() + 3 * YEAR  # past the points' expiry, on the member's birthday
    chip = kiosk.member(balance_fen=100_000, birthday=ahead.date().replace(year=1990))
    points = kiosk.account(chip).points
    assert points > 0
    kiosk.clock.set(ahead)
    assert kiosk.ledger.view(chip.uid.hex().upper(), ahead).birthday_gift_due
    _untrusted(kiosk)
    kiosk.tap(chip)
    assert kiosk.account(chip).points == points
    assert kiosk.account(chip).birthday_gift_years == ()
    assert kiosk.session.check_in()
    assert kiosk.session.view.message.code == "clock_not_trusted"
    assert kiosk.account(chip).last_checkin_on is None
    assert not [t for t in kiosk.store.outbox() if t.kind in (Kind.POINTS_EXPIRY, Kind.BIRTHDAY_GIFT)]
    kiosk.lift()
    kiosk.wait(60)
    kiosk.session.clock_trust = None  # NTP answered, and the clock was right after all
    kiosk.tap(chip)
    kinds = [t.kind for t in kiosk.store.outbox()]
    assert Kind.POINTS_EXPIRY in kinds and Kind.BIRTHDAY_GIFT in kinds


# -- the system's side ----------------------------------------------------------------------------


def test_ntp_state_from_systemd_timesyncd(tmp_path):
    from kiosk.app.clock_trust import ntp_synchronized

    assert ntp_synchronized(tmp_path / "absent") is None  # not the time service here: not known
    (tmp_path / "timesync").mkdir()
    assert ntp_synchronized(tmp_path / "timesync") is False
    (tmp_path / "timesync" / "synchronized").touch()
    assert ntp_synchronized(tmp_path / "timesync") is True


def test_the_system_trust_looks_the_ledger_up_once_a_minute():
    from kiosk.app.clock_trust import SystemClockTrust

    looked, mono = [], [0.0]
    trust = SystemClockTrust(lambda: looked.append(1) or T, built=T - YEAR, ntp=lambda: None,
                             monotonic=lambda: mono[0])
    assert trust(T) == TRUSTED and not trust(T - DAY).trusted
    mono[0] = 59.0
    trust(T)
    assert len(looked) == 1
    mono[0] = 60.0
    trust(T)
    assert len(looked) == 2


# -- a till charge across steps -------------------------------------------------------------------


@pytest.mark.parametrize("step", STEPS.values(), ids=STEPS)
def test_a_till_charge_waiting_for_the_card_survives_a_clock_step(kiosk, step):
    from kiosk.session.charge_ticket import ChargeOrder, ChargeTicket, TillCharge
    from kiosk.session.states import S

    chip = kiosk.member(balance_fen=50_000)
    before = kiosk.account(chip).balance_fen
    ticket = ChargeTicket(ChargeOrder("T1:A1", 1_000, False, 60))
    kiosk.session.post(TillCharge(ticket))
    kiosk.run()
    kiosk.wait(30)
    kiosk.clock.step(step.total_seconds())
    kiosk.run(1)
    assert kiosk.state == S.charge_tap and ticket.outcome is None
    kiosk.tap(chip)
    kiosk.session.confirm_charge()
    assert ticket.outcome.status == "approved" and kiosk.account(chip).balance_fen == before - 1_000


# The offline limit across clock steps (HQ's last word 'tomorrow' included): tests/sync/test_offline_timer.py
