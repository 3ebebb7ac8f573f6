"""The simulated reader behaves like a driver: typed errors, taps, persistence, socket taps."""

import os
import socket
import threading

import pytest

from kiosk.reader import mifare
from kiosk.reader.base import AuthFailed, CardType, KeyType, NotSupported
from kiosk.reader.chips import new_classic
from kiosk.reader.simulated import SimulatedReader, Wallet

FF = mifare.TRANSPORT_KEY


def test_wait_for_card_and_removal():
    r = SimulatedReader()
    assert r.wait_for_card(0.01) is None
    card = new_classic()
    threading.Timer(0.05, r.place, (card,)).start()
    info = r.wait_for_card(2.0)
    assert info is not None and info.uid == card.uid and info.type == CardType.MIFARE_CLASSIC_1K
    assert info.sak == 0x08 and info.atqa == b"\x04\x00"
    assert r.wait_for_removal(0.01) is False
    threading.Timer(0.05, r.remove).start()
    assert r.wait_for_removal(2.0) is True


def test_errors_are_typed_and_the_card_is_reselected():
    r = SimulatedReader()
    r.place(new_classic())
    r.wait_for_card(0)
    with pytest.raises(AuthFailed):
        r.mifare_auth(4, KeyType.A, b"\x00" * 6)
    r.mifare_auth(4, KeyType.A, FF)
    r.mifare_write(4, b"k" * 16)
    assert r.mifare_read(4) == b"k" * 16
    with pytest.raises(AuthFailed):
        r.mifare_read(8)  # other sector: refused
    with pytest.raises(NotSupported):
        r.ntag_read(4)
    with pytest.raises(NotSupported):
        r.read_signature()


def test_wallet_persists_between_runs(tmp_path):
    path = tmp_path / "cards.json"
    r = SimulatedReader(Wallet(path))
    card = r.wallet.new("alice", "classic1k")
    r.wallet.new("tag", "ntag213")
    r.place("alice")
    r.wait_for_card(0)
    r.mifare_auth(4, KeyType.A, FF)
    r.mifare_write(4, b"persisted-bytes!")
    r.close()
    assert os.stat(path).st_mode & 0o777 == 0o600
    again = SimulatedReader(Wallet(path))
    assert set(again.wallet.cards) == {"alice", "tag"}
    assert again.wallet.cards["alice"].uid == card.uid
    again.place("alice")
    again.wait_for_card(0)
    again.mifare_auth(4, KeyType.A, FF)
    assert again.mifare_read(4) == b"persisted-bytes!"


def test_ntag_counter_seen_by_a_kiosk_is_kept_in_the_wallet(tmp_path):
    path = tmp_path / "cards.json"
    r = SimulatedReader(Wallet(path))
    r.wallet.new("tag", "ntag213")
    r.place("tag")
    r.wait_for_card(0)
    r.ntag_write(r.wallet.cards["tag"].variant.cfg0 + 1, b"\x10\x00\x00\x00")  # NFC_CNT_EN
    for tap in (1, 2):
        r.place("tag")
        r.wait_for_card(0)
        r.ntag_read(4)
        assert r.ntag_read_counter() == tap
    # a restarted kiosk must not find its cards' counters behind what its ledger has seen
    assert Wallet(path).cards["tag"].nfc_counter == 2


def test_keyboard_taps():
    w = Wallet()
    w.new("a", "classic1k")
    w.new("b", "ntag216")
    r = SimulatedReader(w, keymap={"1": "a", "2": "b"})
    r.on_key("1")
    assert r.chip is w.cards["a"]
    r.on_key("2")
    assert r.chip is w.cards["b"] and not w.cards["a"].present
    r.on_key("2")
    assert r.chip is None
    r.on_key("1")
    r.on_key(" ")
    assert r.chip is None
    r.on_key("x")
    assert r.chip is None


def test_socket_taps(tmp_path):
    r = SimulatedReader()
    path = tmp_path / "reader.sock"
    r.serve_socket(path)
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(path))
            f = s.makefile("rw")

            def ask(line: str) -> str:
                f.write(line + "\n")
                f.flush()
                return f.readline().strip()

            assert ask("new bob ntag213").startswith("ok bob ntag213")
            assert ask("new x floppy").startswith("error unknown card kind")
            assert ask("tap nobody").startswith("error")
            assert ask("tap bob") == "ok bob on the reader"
            assert r.wait_for_card(1).type == CardType.NTAG213
            assert ask("list") == "ok bob*"
            assert ask("remove") == "ok removed"
            assert r.wait_for_removal(1)
            assert ask("fly").startswith("error")
    finally:
        r.close()


def test_from_config_and_the_card_command(tmp_path, capsys):
    import argparse

    from kiosk.app.config import ReaderConfig
    from kiosk.reader import card_cli
    from kiosk.reader.simulated import from_config

    cards = tmp_path / "cards.json"

    def card(*words: str) -> int:
        return card_cli.run(argparse.Namespace(cards=cards, words=list(words)))

    assert card("new", "alice", "classic1k") == 0  # no kiosk running: edits the file
    assert card("tap", "alice") == 1
    assert "no kiosk is listening" in capsys.readouterr().err
    reader = from_config(ReaderConfig("simulated", str(cards)))
    reader.open()
    try:
        assert reader.keymap == {"1": "alice"}
        assert card("tap", "alice") == 0
        assert reader.wait_for_card(1).type == CardType.MIFARE_CLASSIC_1K
        assert card("list") == 0 and "alice*" in capsys.readouterr().out
        assert card("remove") == 0
        assert reader.wait_for_removal(1)
        assert card("tap", "bob") == 1
    finally:
        reader.close()
    assert isinstance(from_config(ReaderConfig("simulated", "")), SimulatedReader)


@pytest.mark.parametrize(
    "text", ["", "[]", '{"cards": 3}', '{"cards": {"a": {"chip": "x"}}}', '{"cards": {"a": 1}}']
)
def test_damaged_card_file_is_a_clear_error(tmp_path, text):
    path = tmp_path / "cards.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="not a simulated card file"):
        Wallet(path)


def test_a_card_swapped_without_a_lift_reads_as_a_removal():
    r = SimulatedReader()
    first, second = new_classic(bytes.fromhex("04000001")), new_classic(bytes.fromhex("04000002"))
    r.place(first)
    assert r.wait_for_card(0).uid == first.uid
    assert r.wait_for_removal(0) is False
    r.place(second)  # slid over the first: the field is never empty
    assert r.wait_for_removal(0) is True
    assert r.wait_for_card(0).uid == second.uid
    assert r.wait_for_removal(0) is False


def test_the_session_sees_the_swap_as_removed_then_presented():
    from kiosk.session.card_access import FormatCardAccess
    from kiosk.session.inputs import CardPresented, CardRemoved
    from kiosk.session.reader_worker import ReaderWorker
    from tests.session_support import DEVICE, KEYS, START

    r = SimulatedReader()
    posted = []
    worker = ReaderWorker(r, FormatCardAccess(KEYS, DEVICE, lambda: START.date()), posted.append, 0)
    first, second = new_classic(bytes.fromhex("04000001")), new_classic(bytes.fromhex("04000002"))
    r.place(first)
    worker.step()
    r.place(second)
    worker.step()
    worker.step()
    cards = [e for e in posted if isinstance(e, CardPresented | CardRemoved)]
    assert [type(e) for e in cards] == [CardPresented, CardRemoved, CardPresented]
    assert cards[0].card.uid == cards[1].uid == "04000001"
    assert cards[2].card.uid == "04000002"
