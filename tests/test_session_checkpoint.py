"""The kiosk writes its snapshot at the attract screen, on its own thread, once the journal is
due for one: without it only the store's safety net (a checkpoint inside a member's commit after
AUTO_CHECKPOINT_AFTER records) ever ran in `kiosk run`, slowing that tap and keeping every journal
segment until then."""

from __future__ import annotations

from kiosk.session.states import S
from kiosk.store import store as store_module
from tests.session_support import make_kiosk


def test_a_due_checkpoint_runs_at_idle_and_not_in_the_middle_of_a_visit(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "CHECKPOINT_EVERY", 3)
    kiosk = make_kiosk(tmp_path)
    try:
        chip = kiosk.member(10_000)  # sign-up, gift and top-up: the journal is due
        kiosk.tap(chip)
        assert kiosk.state == S.home and kiosk.store.checkpoint_due()
        kiosk.session.pump()
        assert kiosk.store.records_since_checkpoint >= 3  # a member is at the screen: not now
        kiosk.lift()
        kiosk.wait(120)
        assert kiosk.state == S.idle
        kiosk.session.pump()
        kiosk.session._checkpointing.join(10)
        assert not kiosk.store.checkpoint_due() and kiosk.store.records_since_checkpoint < 3
        assert kiosk.store.check() == []
    finally:
        kiosk.store.close()
