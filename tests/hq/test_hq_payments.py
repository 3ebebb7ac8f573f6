"""HQ's payment bridge through a real broker: one decision per payment_ref, repeated requests get
the same answer, a reused ref is refused, no provider means a prompt `failed`."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from kiosk.hq.embedded import start_receiver
from kiosk.hq.payments import approve_all_for_demo
from kiosk.sync import messages as m
from kiosk.sync.topics import DeviceTopics


def _kiosk(broker):
    got: list[m.PaymentConfirmation] = []
    cond = threading.Condition()
    client = broker.client("D1", client_id="D1-pay")

    def on_message(c, u, msg):
        with cond:
            got.append(m.decode(msg.payload, "payment"))
            cond.notify_all()

    client.on_message = on_message
    client.subscribe(DeviceTopics("S1", "D1").topic("payment"), qos=1)

    def ask(ref: str, amount: int, count: int) -> list[m.PaymentConfirmation]:
        request = m.HqPaymentRequest("D1", ref, amount, "qr", datetime.now(UTC))
        client.publish(DeviceTopics("S1", "D1").payment_request, m.encode(request), qos=1)
        with cond:
            cond.wait_for(lambda: len(got) >= count, 10)
            return list(got)

    return client, ask


def test_each_payment_is_decided_once(mosquitto, hq_url):
    calls = []

    def provider(request):
        calls.append(request.payment_ref)
        return approve_all_for_demo(request)

    client, ask = _kiosk(mosquitto)
    with start_receiver(hq_url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq"), payment_provider=provider):
        first = ask("pay-1", 5000, 1)[-1]
        assert (first.payment_ref, first.amount_fen, first.outcome) == ("pay-1", 5000, "paid")
        again = ask("pay-1", 5000, 2)[-1]
        assert again.outcome == "paid" and calls == ["pay-1"]  # answered again, collected once
        reused = ask("pay-1", 9900, 3)[-1]
        assert reused.outcome == "failed" and "already used" in reused.detail
    client.disconnect()


def test_without_a_provider_requests_fail_promptly(mosquitto, hq_url):
    client, ask = _kiosk(mosquitto)
    with start_receiver(hq_url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")):
        answer = ask("pay-2", 1000, 1)[-1]
    assert answer.outcome == "failed" and answer.detail == "no payment provider at HQ"
    client.disconnect()
