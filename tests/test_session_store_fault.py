"""Money pauses while the store cannot save, with the reason on screen, and comes back by itself
once the fault clears (issue 17 item 2): no cash is taken into a kiosk that cannot record it, and
no restart is needed. The real Store under a failing-card Disk (tests/faulty_disk.py)."""

from __future__ import annotations

import errno

import pytest

from kiosk.session.store_fault import fault_code
from kiosk.store import files
from kiosk.store.errors import StoreWriteError
from kiosk.ui.i18n import translator
from kiosk.ui.messages import render_message
from tests.faulty_disk import CHANGES, NEEDS_SPACE, FaultyDisk
from tests.session_support import make_kiosk, staff_card

CASES = {
    "disk full": (errno.ENOSPC, NEEDS_SPACE, "store_full"),
    "read-only remount": (errno.EROFS, CHANGES, "store_read_only"),
    "I/O error": (errno.EIO, CHANGES, "store_error"),
}


@pytest.mark.parametrize(("code", "kinds", "reason"), CASES.values(), ids=CASES)
def test_a_failing_store_pauses_top_ups_with_the_reason_and_recovers_by_itself(tmp_path, code, kinds, reason):
    kiosk = make_kiosk(tmp_path)
    chip = kiosk.member(balance_fen=10_000)
    kiosk.tap(chip)
    disk = FaultyDisk(code, kinds=kinds, after=0)
    with files.use(disk):
        assert kiosk.session.check_in()  # a commit: it fails, nothing changes
        assert kiosk.session.view.message.code == "store_failed"
        assert kiosk.account(chip).last_checkin_on is None
        assert kiosk.session.dismiss() and kiosk.state == "home"
        assert kiosk.session.start_topup()
        assert (kiosk.state, kiosk.session.view.message.code) == ("home", "money_paused")
        assert kiosk.session.view.message.params == {"reason": reason}
        disk.clear()  # space freed / the card back
        assert kiosk.session.start_topup() and kiosk.state == "topup_amount"
    assert kiosk.session.choose_amount(5000) and kiosk.session.pay("staff_cash")
    kiosk.lift()
    kiosk.tap(staff_card())
    assert kiosk.state == "done" and kiosk.account(chip).balance_fen == 15_000


def test_the_reason_is_said_in_both_languages():
    before = translator().locale
    try:
        for locale, words in (("en", "memory card no longer accepts writes"), ("zh_CN", "存储卡已无法写入")):
            translator().set_locale(locale)
            assert words in render_message("money_paused", {"reason": "store_read_only"})
    finally:
        translator().set_locale(before)


def test_the_reason_comes_from_the_errno_along_the_causes():
    try:
        try:
            raise OSError(errno.EROFS, "Read-only file system")
        except OSError as inner:
            raise StoreWriteError("could not save") from inner
    except StoreWriteError as exc:
        assert fault_code(exc) == "store_read_only"
    assert fault_code(ValueError("no errno")) == "store_error"


class _Hq:
    """The sync link's side the session talks to (the real SyncClientLink sets the client's field
    its status message reads)."""

    def __init__(self) -> None:
        self.store_fault = "never told"

    def is_blocked(self, uid: str) -> bool:
        return False

    def money_paused(self) -> str:
        return ""

    def last_contact(self):
        return None

    def online(self) -> bool:
        return True

    def report_store_fault(self, reason: str) -> None:
        self.store_fault = reason


def test_hq_is_told_while_the_store_cannot_save(tmp_path):
    kiosk = make_kiosk(tmp_path)
    hq = kiosk.session.sync = _Hq()
    chip = kiosk.member(balance_fen=10_000)
    kiosk.tap(chip)
    disk = FaultyDisk(errno.EROFS, kinds=CHANGES, after=0)
    with files.use(disk):
        kiosk.session.check_in()
        assert hq.store_fault == "store_read_only"
        disk.clear()
        kiosk.session.dismiss()
        assert kiosk.session.start_topup()
    assert hq.store_fault == ""


def test_the_sync_clients_status_says_money_is_paused_by_the_store(tmp_path):
    from kiosk.session.sync_link import SyncClientLink
    from kiosk.sync.client import SyncClient, SyncSettings
    from tests.sync.support import open_store

    store = open_store(tmp_path / "store")
    try:
        client = SyncClient(store, SyncSettings("S1", "D1", "localhost", data_dir=tmp_path))
        assert client.status().money_paused == ""
        SyncClientLink(client).report_store_fault("store_full")
        assert client.status().money_paused == "store_full"
        SyncClientLink(client).report_store_fault("")
        assert client.status().money_paused == ""
    finally:
        store.close()
