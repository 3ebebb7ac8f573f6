"""The sync part of `kiosk demo` runs end to end with a real broker and the real HQ receiver."""

from __future__ import annotations

from kiosk.demo.sync import run_sync_demo
from tests.sync.support import make_txns, open_store


def test_sync_demo_delivers_and_refuses_the_lost_card(tmp_path, capsys):
    store = open_store(tmp_path / "kiosk", "DEMO-01")
    store.commit_many(make_txns("DEMO-01", 40))
    try:
        assert run_sync_demo(store, tmp_path / "demo") == 0
    finally:
        store.close()
    out = capsys.readouterr().out
    assert "HQ committed 40 transactions" in out
    assert "refused: card reported lost" in out
    assert store.outbox_depth() == 0
