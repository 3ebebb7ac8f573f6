"""A member not in this kiosk's replica, tapped at it (protocol v2), through the real broker and
the real HQ receiver: while online the session asks HQ (MQTT 5 response topic + correlation
data) without blocking — it shows `checking_card`, the reader and the screen keep turning —
then shows the member and keeps the rows; an answer that comes after the tap gave up is still
kept for the next tap; while offline it says the card cannot be checked offline and records an
incident."""

from __future__ import annotations

import time

from kiosk.hq.embedded import start_receiver
from kiosk.hq.store_snapshots import store_member_ids
from kiosk.reader.card import issue_card
from kiosk.session.sync_link import SyncClientLink
from kiosk.sync import messages as m
from kiosk.sync.member_fetch import NOT_FOUND
from tests.session_support import KEYS, PIN, SIGNERS, make_kiosk
from tests.sync.support import open_store
from tests.sync.test_drain import start_kiosk


def _member_of_another_store(kiosk, d3_store, n: int):
    """A card signed up at S2's kiosk D3 (the chip issued as D3 would issue it)."""
    chip = kiosk.blank()
    uid = chip.uid.hex().upper()
    now = kiosk.clock.now()
    txn = d3_store.ledger.sign_up(uid, 1, f"139000{n:05d}", PIN, now, name=f"S2 member {n}")
    d3_store.commit(txn)
    kiosk.reader.place(chip)
    issue_card(kiosk.reader, kiosk.reader.wait_for_card(0), KEYS, txn.member_id, 1, now.date(), "D3", signers=SIGNERS)
    kiosk.reader.remove()
    return chip, txn.member_id


def test_a_member_of_another_store_is_fetched_at_the_tap_and_kept(mosquitto, tmp_path):
    clients = []

    def link(store):
        client = start_kiosk(store, mosquitto, store_replica=True)
        # fetch and keep is what this test is about: the 300 ms bound has its own test, and on a
        # loaded 2-core CI machine the round trip through broker and HQ has taken longer
        client.members.timeout_s = 3.0
        client.start_worker()
        clients.append(client)
        return SyncClientLink(client)

    kiosk = make_kiosk(tmp_path / "d1", device="D1", sync=link)
    d1 = clients[0]
    d3_store = open_store(tmp_path / "d3", "D3")
    with start_receiver(tmp_path / "hq.sqlite3", mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")) as hq:
        d3 = start_kiosk(d3_store, mosquitto, device="D3")
        d3.start_worker()
        try:
            chip, member_id = _member_of_another_store(kiosk, d3_store, 1)
            other, _ = _member_of_another_store(kiosk, d3_store, 2)
            assert d3.wait_until(lambda: d3_store.outbox_depth() == 0, 20, poll=False)
            assert d1.wait_until(lambda: d1.connected and d1.subscribed and kiosk.store.hq_feed.snapshot_id, 20,
                                 poll=False)
            assert kiosk.ledger.state.cards.get(chip.uid.hex().upper()) is None
            started, shown = time.monotonic(), len(kiosk.views)
            kiosk.reader.place(chip)
            kiosk.run(1)
            # the first screen after the tap is "checking" (nothing waited for HQ before showing it),
            # or already home when HQ's answer came in during that very pump (a descheduled pump on a
            # loaded machine); a fetch that never answers in time has its own test below
            assert kiosk.views[shown].state in ("checking_card", "home"), [v.state for v in kiosk.views[shown:]]
            settle(kiosk)
            took = time.monotonic() - started
            assert kiosk.state == "home", (kiosk.state, kiosk.session.view.message)
            print(f"tap -> member screen with an HQ fetch: {took * 1000:.1f} ms")
            assert [v.state for v in kiosk.views[shown:]][-2:] in (["checking_card", "home"], ["home"])
            assert kiosk.account(chip).member_id == member_id
            kiosk.lift()
            assert member_id in store_member_ids(hq.admin_db, "S1", "0")  # HQ: now held at S1 too

            d1.stop()  # offline: the kept member still shows; a card never seen here cannot be checked
            kiosk.tap(chip)
            assert kiosk.state == "home"
            kiosk.lift()
            kiosk.tap(other)
            assert (kiosk.state, kiosk.session.view.message.code) == ("not_recognised", "card_unknown_offline")
            assert kiosk.incident_kinds() == ["card_unknown_offline"]
            kiosk.lift()
            d1.start()
            d1.start_worker()
            assert d1.wait_until(lambda: d1.connected and d1.subscribed, 10, poll=False)
            assert d1.members.fetch("04AABBCC") == NOT_FOUND
        finally:
            d1.stop()
            d3.stop()
    kiosk.store.close()
    d3_store.close()


def settle(kiosk, limit_s: float = 5.0) -> None:
    """Pump (as the app's clock does) until the session is no longer waiting for HQ."""
    deadline = time.monotonic() + limit_s
    while kiosk.state == "checking_card" and time.monotonic() < deadline:
        kiosk.run(1)
        time.sleep(0.005)


def _online_kiosk(tmp_path, mosquitto, clients, device="D1"):
    def link(store):
        client = start_kiosk(store, mosquitto, device=device, store_replica=True)
        client.start_worker()
        clients.append(client)
        return SyncClientLink(client)

    return make_kiosk(tmp_path / device.lower(), device=device, sync=link)


def test_an_answer_after_the_card_was_lifted_is_kept_for_the_next_tap(mosquitto, tmp_path):
    clients = []
    kiosk = _online_kiosk(tmp_path, mosquitto, clients)
    d1 = clients[0]
    d3_store = open_store(tmp_path / "d3", "D3")
    with start_receiver(tmp_path / "hq.sqlite3", mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")):
        d3 = start_kiosk(d3_store, mosquitto, device="D3")
        d3.start_worker()
        try:
            chip, member_id = _member_of_another_store(kiosk, d3_store, 1)
            uid = chip.uid.hex().upper()
            assert d3.wait_until(lambda: d3_store.outbox_depth() == 0, 20, poll=False)
            assert d1.wait_until(lambda: d1.connected and d1.subscribed and kiosk.store.hq_feed.snapshot_id, 20,
                                 poll=False)
            # HQ answers within milliseconds: the answer is held at the network thread's door (a slow
            # link) until the member has walked away, then handed to the kiosk's own handler
            take_answer, held = d1._link.on_response, []
            d1._link.on_response = lambda *answer: held.append(answer) or True
            kiosk.reader.place(chip)
            kiosk.worker.step()
            kiosk.session.pump()
            assert kiosk.state == "checking_card"
            kiosk.lift()  # the member walks away before HQ's answer is looked at
            assert kiosk.state == "idle"
            assert d1.wait_until(lambda: held, 5, poll=False)
            d1._link.on_response = take_answer
            assert [take_answer(*answer) for answer in held] == [True]
            assert d1.wait_until(lambda: kiosk.ledger.state.cards.get(uid) is not None, 5, poll=False)
            views = len(kiosk.views)
            kiosk.tap(chip)  # read from the replica now: no question to HQ
            assert kiosk.state == "home" and kiosk.account(chip).member_id == member_id
            assert "checking_card" not in [v.state for v in kiosk.views[views:]]
            assert not d1.counters.rejected
        finally:
            d1.stop()
            d3.stop()
    kiosk.store.close()
    d3_store.close()


def test_past_the_timeout_the_card_is_unknown_here_and_a_late_answer_is_still_kept(mosquitto, tmp_path):
    clients = []
    kiosk = _online_kiosk(tmp_path, mosquitto, clients)
    d1 = clients[0]
    d3_store = open_store(tmp_path / "d3", "D3")
    chip, _ = _member_of_another_store(kiosk, d3_store, 1)
    uid = chip.uid.hex().upper()
    assert d1.wait_until(lambda: d1.connected and d1.subscribed, 10, poll=False)
    try:
        kiosk.tap(chip)  # no HQ on the broker: nobody answers
        assert kiosk.state == "checking_card"
        settle(kiosk)
        assert (kiosk.state, kiosk.session.view.message.code) == ("not_recognised", "card_unknown_here")
        assert kiosk.incident_kinds() == []  # our card, HQ slow: nothing suspect about it
        kiosk.lift()
        with start_receiver(tmp_path / "hq.sqlite3", mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")):
            d3 = start_kiosk(d3_store, mosquitto, device="D3")
            d3.start_worker()
            try:
                assert d3.wait_until(lambda: d3_store.outbox_depth() == 0, 20, poll=False)
                d1.members.timeout_s = 0.0  # every answer is late now: the tap gives up at its first look
                kiosk.tap(chip)
                settle(kiosk)
                assert (kiosk.state, kiosk.session.view.message.code) == ("not_recognised", "card_unknown_here")
                kiosk.lift()
                assert d1.wait_until(lambda: kiosk.ledger.state.cards.get(uid) is not None, 5, poll=False)
                kiosk.tap(chip)
                assert kiosk.state == "home"
            finally:
                d3.stop()
    finally:
        d1.stop()
    kiosk.store.close()
    d3_store.close()


def test_hq_answers_only_on_the_askers_own_topic_with_its_correlation_data(mosquitto, tmp_path):
    with start_receiver(tmp_path / "hq.sqlite3", mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")):
        d1 = mosquitto.client("D1")
        got = []
        d1.on_message = lambda _c, _u, msg: got.append((msg.topic, getattr(msg.properties, "CorrelationData", None)))
        d1.subscribe("kiosk/v1/S1/+/member", qos=1)
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        request = m.encode(m.MemberRequest("D1", "04AABBCC", kiosk_now()))
        for reply_to in ("kiosk/v1/S1/D2/member", "kiosk/v1/S1/D1/member"):
            props = Properties(PacketTypes.PUBLISH)
            props.ResponseTopic, props.CorrelationData = reply_to, b"corr-" + reply_to[-8:].encode()
            d1.publish("kiosk/v1/S1/D1/member_request", request, qos=1, properties=props).wait_for_publish(5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not got:
            time.sleep(0.02)
        time.sleep(0.3)
        d1.loop_stop()
        d1.disconnect()
    assert got == [("kiosk/v1/S1/D1/member", b"corr-1/member")]  # the one to its own topic only


def kiosk_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)
