"""My details at the kiosk (profile completion), driven through the real session, store, reader
and card format: behind the PIN, the phone typed twice, the birthday once, the points once; and
the sign-up's consent to member notes recorded on the SIGN_UP."""

from __future__ import annotations

from datetime import date

import pytest

from kiosk.ledger.txn import Kind
from tests.session_support import PIN, make_kiosk


@pytest.fixture
def kiosk(tmp_path):
    k = make_kiosk(tmp_path)
    yield k
    k.store.close()


def profile_txns(k) -> list:
    return [t for t in k.store.outbox() if t.kind is Kind.PROFILE_UPDATE]


def open_details(k, chip, pin: str = PIN) -> None:
    k.tap(chip)
    assert k.session.start_profile() and k.state == "profile_pin"
    assert k.session.view.pin.purpose == "profile"
    k.enter_pin(pin)


def test_completing_the_details_saves_them_and_gives_the_points_once(kiosk):
    points = kiosk.ledger.rules.engagement.profile_points
    chip = kiosk.member(name="王芳")  # no birthday: the profile is not complete
    s = kiosk.session
    start_points = kiosk.account(chip).points
    assert not s.save_profile("王芳", "", "", date(1990, 11, 25))  # not before the PIN
    open_details(kiosk, chip)
    assert kiosk.state == "profile_edit"
    view = s.view.profile
    assert (view.name, view.birthday, view.birthday_editable, view.points_offered) == ("王芳", None, True, points)
    assert "0001" in view.phone_masked and "*" in view.phone_masked
    assert s.save_profile("王芳", "", "", date(1990, 11, 25))
    assert kiosk.state == "done"
    assert s.view.message.code == "profile_saved" and s.view.message.params["points"] == points
    assert kiosk.account(chip).points == start_points + points
    assert s.dismiss() and kiosk.state == "home"
    open_details(kiosk, chip)  # a second change: saved, no points
    assert s.view.profile.points_offered == 0 and not s.view.profile.birthday_editable
    assert s.save_profile("王芳芳", "", "", None)
    assert s.view.message.params["points"] == 0
    assert [t.points_delta for t in profile_txns(kiosk)] == [points, 0]


def test_a_new_phone_must_be_typed_twice_and_be_free(kiosk):
    other = kiosk.member(name="李雷")
    chip = kiosk.member(name="王芳")
    taken = kiosk.ledger.lookup(other.uid.hex().upper())[1].phone
    open_details(kiosk, chip)
    s = kiosk.session
    assert s.save_profile("", "13700137000", "13700137001", None)
    assert (kiosk.state, s.view.message.code) == ("profile_edit", "phone_mismatch")
    assert s.save_profile("", taken, taken, None)
    assert (kiosk.state, s.view.message.code) == ("profile_edit", "phone_in_use")
    assert profile_txns(kiosk) == []  # refused: nothing written
    assert s.save_profile("", "13700137000", "13700137000", None) and kiosk.state == "done"
    assert kiosk.ledger.lookup(chip.uid.hex().upper())[1].phone == "13700137000"


def test_the_birthday_changes_once_at_the_kiosk(kiosk):
    chip = kiosk.member(name="王芳", birthday=date(1990, 11, 25))
    open_details(kiosk, chip)
    s = kiosk.session
    assert s.save_profile("", "", "", date(1990, 11, 26)) and kiosk.state == "done"
    s.dismiss()
    open_details(kiosk, chip)
    assert s.save_profile("", "", "", date(1990, 11, 27))
    assert (kiosk.state, s.view.message.code) == ("profile_edit", "birthday_once")
    assert s.save_profile("", "", "", None)
    assert (kiosk.state, s.view.message.code) == ("profile_edit", "profile_unchanged")
    assert len(profile_txns(kiosk)) == 1


def test_a_wrong_pin_counts_and_back_leaves_without_saving(kiosk):
    chip = kiosk.member(name="王芳")
    open_details(kiosk, chip, "000001")
    assert kiosk.state == "profile_pin" and kiosk.session.view.message.code == "pin_wrong"
    assert kiosk.session.back() and kiosk.state == "home"
    assert kiosk.session.start_profile()
    kiosk.enter_pin(PIN)
    assert kiosk.session.back() and kiosk.state == "home"
    assert not kiosk.session.save_profile("x", "", "", None)  # the edit screen is gone
    assert profile_txns(kiosk) == []


@pytest.mark.parametrize("consent", [True, False])
def test_the_sign_up_records_the_consent_to_member_notes(kiosk, consent):
    chip = kiosk.blank()
    s = kiosk.session
    kiosk.tap(chip)
    assert s.start_signup() and s.submit_details("13600136000", "新会员", None)
    assert s.accept_privacy(notes_consent=consent)
    kiosk.enter_pin(PIN)
    kiosk.enter_pin(PIN)
    kiosk.run(6)
    assert kiosk.state == "done", s.view.message
    sign_up = next(t for t in kiosk.store.outbox() if t.kind is Kind.SIGN_UP and t.name == "新会员")
    assert sign_up.notes_consent is consent
    assert kiosk.ledger.state.members[sign_up.member_id].notes_consent is consent
