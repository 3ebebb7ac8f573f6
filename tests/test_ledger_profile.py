"""Profile completion (鼓励会员自助完善信息): worked examples at the rules' boundaries and
properties over any run of changes. The birthday changes once; the points come once, when the
member's own change completes the profile; the state refuses a forged second of either."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.ledger.operations import Ledger, Refused
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.profile import ProfileChange, profile_problem
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import LedgerState
from kiosk.ledger.txn import Kind, txn_from_dict, txn_to_dict

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, 23 November
CARD, OTHER = "04A1B2C3D4E5F6", "04FFEEDDCCBBAA"
PIN = "482915"
POINTS = default_rules().engagement.profile_points


def make_ledger(name: str = "", birthday: date | None = None, points: int = POINTS) -> Ledger:
    rules = default_rules()
    rules = replace(rules, engagement=replace(rules.engagement, profile_points=points))
    ledger = Ledger(LedgerState(), rules, "store1-k1", b"pepper", FAST_FOR_TESTS)
    ledger.apply(ledger.sign_up(CARD, 1, "13800138000", PIN, NOW, name, birthday))
    ledger.apply(ledger.sign_up(OTHER, 1, "13900139000", PIN, NOW, "李雷"))
    return ledger


def save(ledger: Ledger, change: ProfileChange, at: datetime = NOW):
    txn = ledger.update_profile(CARD, change, at, pin_verified=True)
    result = ledger.apply(txn)
    assert result.applied and not result.conflict, result
    return txn


def member(ledger: Ledger):
    return ledger.lookup(CARD)[1]


def test_completing_the_profile_gives_the_points_once():
    ledger = make_ledger()
    first = save(ledger, ProfileChange(name="王芳"))  # name only: not complete yet
    assert (first.kind, first.points_delta, first.name, first.points_expire_on) == (Kind.PROFILE_UPDATE, 0, "王芳", None)
    done = save(ledger, ProfileChange(birthday=date(1990, 11, 25)))  # now complete
    assert done.points_delta == POINTS == 50 and done.points_expire_on == date(2027, 10, 31)
    assert ledger.lookup(CARD)[2].profile_rewarded
    again = save(ledger, ProfileChange(name="王芳芳"))  # the second completion gives nothing
    assert again.points_delta == 0 and member(ledger).name == "王芳芳"
    assert ledger.lookup(CARD)[2].points == POINTS


def test_a_member_who_signed_up_complete_has_nothing_to_complete():
    ledger = make_ledger(name="王芳", birthday=date(1990, 11, 25))
    assert ledger.profile_points_offered(member(ledger)) == 0
    assert save(ledger, ProfileChange(name="王芳芳")).points_delta == 0


def test_points_switched_off_give_nothing():
    ledger = make_ledger(points=0)
    assert save(ledger, ProfileChange(name="王芳", birthday=date(1990, 11, 25))).points_delta == 0
    assert not ledger.lookup(CARD)[2].profile_rewarded


def test_the_birthday_changes_once_the_second_change_is_refused():
    ledger = make_ledger(name="王芳", birthday=date(1990, 11, 25))
    save(ledger, ProfileChange(birthday=date(1990, 11, 26)))
    assert member(ledger).birthday == date(1990, 11, 26) and member(ledger).birthday_edited
    with pytest.raises(Refused) as refused:
        ledger.update_profile(CARD, ProfileChange(birthday=date(1990, 11, 27)), NOW, pin_verified=True)
    assert refused.value.code == "birthday_once"
    # the same birthday again is no change, and the name may still change
    txn = save(ledger, ProfileChange(name="王芳芳", birthday=date(1990, 11, 26)))
    assert txn.birthday is None and txn.name == "王芳芳"


def test_the_birthday_at_its_boundaries():
    ledger = make_ledger()
    today = default_rules().local_date(NOW)
    for day, code in ((today + timedelta(days=1), "bad_birthday"), (date(1899, 12, 31), "bad_birthday")):
        with pytest.raises(Refused) as refused:
            ledger.update_profile(CARD, ProfileChange(birthday=day), NOW, pin_verified=True)
        assert refused.value.code == code
    assert save(ledger, ProfileChange(birthday=today)).birthday == today  # born today: the last day allowed
    assert make_ledger().update_profile(CARD, ProfileChange(birthday=date(1900, 1, 1)), NOW, True).birthday == date(1900, 1, 1)


def test_a_phone_in_use_by_another_active_member_is_refused_and_ones_own_is_no_change():
    ledger = make_ledger(name="王芳")
    for phone, code in (("13900139000", "phone_in_use"), ("12345", "bad_phone"), ("13800138000", "profile_unchanged")):
        with pytest.raises(Refused) as refused:
            ledger.update_profile(CARD, ProfileChange(phone=phone), NOW, pin_verified=True)
        assert refused.value.code == code
    txn = save(ledger, ProfileChange(phone="13700137000"))
    assert txn.phone == "13700137000"
    assert [m.member_id for m in ledger.state.members_with_phone("13700137000")] == [txn.member_id]
    assert ledger.state.members_with_phone("13800138000") == []


def test_the_pin_is_needed_and_the_name_has_at_most_40_characters():
    ledger = make_ledger()
    with pytest.raises(Refused) as refused:
        ledger.update_profile(CARD, ProfileChange(name="王芳"), NOW)
    assert refused.value.code == "pin_required"
    assert save(ledger, ProfileChange(name="x" * 40)).name == "x" * 40
    with pytest.raises(Refused) as refused:
        ledger.update_profile(CARD, ProfileChange(name="y" * 41), NOW, pin_verified=True)
    assert refused.value.code == "bad_name"


def test_the_name_completes_the_profile_too_and_ones_own_name_is_no_change():
    ledger = make_ledger(birthday=date(1990, 11, 25))
    assert save(ledger, ProfileChange(name=" 王芳 ")).points_delta == POINTS  # the name was the last detail missing
    with pytest.raises(Refused) as refused:
        ledger.update_profile(CARD, ProfileChange(name="王芳 "), NOW, pin_verified=True)
    assert refused.value.code == "profile_unchanged"


def test_a_locked_pin_stops_a_profile_change_until_the_lockout_ends():
    ledger = make_ledger()
    for _ in range(5):
        ledger.apply(ledger.check_pin(CARD, "000001", NOW)[1])
    with pytest.raises(Refused) as refused:
        ledger.update_profile(CARD, ProfileChange(name="王芳"), NOW, pin_verified=True)
    assert refused.value.code == "pin_locked"
    assert ledger.update_profile(CARD, ProfileChange(name="王芳"), NOW + timedelta(minutes=15), True).name == "王芳"


def test_points_of_other_kinds_after_the_profile_points_are_not_profile_points():
    ledger = make_ledger(name="王芳")
    save(ledger, ProfileChange(birthday=date(1990, 11, 25)))
    top_up = ledger.top_up(CARD, 10_000, "p1", NOW)
    result = ledger.apply(top_up)
    assert top_up.points_delta > 0 and result.applied and not result.refused
    assert profile_problem(None, ledger.lookup(CARD)[2], replace(top_up, kind=Kind.PROFILE_UPDATE)) == ""  # no member: the state says so


def test_the_state_refuses_a_forged_second_birthday_change_or_second_points():
    ledger = make_ledger(name="王芳")
    first = ledger.update_profile(CARD, ProfileChange(birthday=date(1990, 11, 25)), NOW, pin_verified=True)
    forged = replace(first, seq=first.seq + 1, txn_id=f"store1-k1:{first.seq + 1}", birthday=date(1991, 1, 1))
    assert ledger.apply(first).applied
    before = (member(ledger), ledger.lookup(CARD)[2])
    result = ledger.apply(forged)  # the birthday a second time, and the points a second time
    assert result.refused and "already" in result.conflict
    assert (member(ledger), ledger.lookup(CARD)[2]) == before
    points_only = replace(forged, seq=forged.seq + 1, txn_id=f"store1-k1:{forged.seq + 1}", birthday=None)
    result = ledger.apply(points_only)
    assert result.refused and "points were already given" in result.conflict
    birthday_only = replace(
        points_only, seq=points_only.seq + 1, txn_id=f"store1-k1:{points_only.seq + 1}",
        birthday=date(1991, 1, 1), points_after=points_only.points_before, points_expire_on=None,
    )
    result = ledger.apply(birthday_only)
    assert result.refused and "birthday was already changed once" in result.conflict
    assert (member(ledger), ledger.lookup(CARD)[2]) == before


@pytest.mark.parametrize("points", [POINTS, 1])  # 1: the smallest reward is refused a second time too
def test_a_second_completion_from_another_kiosk_that_had_not_heard_of_the_first_is_refused(points):
    ledger = make_ledger(name="王芳", points=points)
    other = Ledger(ledger.state.copy(), ledger.rules, "store2-k1", b"pepper", FAST_FOR_TESTS)
    here = ledger.update_profile(CARD, ProfileChange(birthday=date(1990, 11, 25)), NOW, pin_verified=True)
    there = other.update_profile(CARD, ProfileChange(birthday=date(1990, 11, 25)), NOW, pin_verified=True)
    assert here.points_delta == there.points_delta == points  # each kiosk, alone, saw an incomplete profile
    assert ledger.apply(here).applied
    result = ledger.apply(there)  # as HQ applies both: the second gives nothing
    assert result.refused and ledger.lookup(CARD)[2].points == points


def test_the_profile_update_survives_its_codec():
    ledger = make_ledger()
    txn = ledger.update_profile(CARD, ProfileChange("王芳", "13700137000", date(1990, 11, 25)), NOW, pin_verified=True)
    assert txn_from_dict(txn_to_dict(txn)) == txn


_changes = st.builds(
    ProfileChange,
    name=st.sampled_from(["", "王芳", "Li Lei", " 王芳 "]),
    phone=st.sampled_from(["", "13800138000", "13900139000", "13700137000", "1360013600"]),
    birthday=st.one_of(st.none(), st.dates(date(1950, 1, 1), date(2010, 12, 31))),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_changes, max_size=12), st.sampled_from(["", "王芳"]), st.one_of(st.none(), st.just(date(1990, 1, 2))))
def test_any_run_of_changes_gives_the_points_at_most_once_and_the_birthday_changes_at_most_once(
    changes, name, birthday
):
    ledger = make_ledger(name=name, birthday=birthday)
    start = member(ledger)
    points_given, birthday_changes, at = 0, 0, NOW
    for change in changes:
        at += timedelta(minutes=1)
        try:
            txn = save(ledger, change, at)
        except Refused:
            continue
        points_given += txn.points_delta > 0
        birthday_changes += txn.birthday is not None
        assert txn.points_delta in (0, POINTS)
    after = member(ledger)
    assert points_given <= 1 and birthday_changes <= 1
    assert points_given == (ledger.lookup(CARD)[2].points == POINTS)
    complete_at_start = bool(start.name and start.phone and start.birthday)
    if complete_at_start:
        assert points_given == 0
    # no two active members ever share a phone
    phones = [m.phone for m in ledger.state.members.values()]
    assert len(phones) == len(set(phones))
    assert after.birthday_edited == (birthday_changes == 1)
