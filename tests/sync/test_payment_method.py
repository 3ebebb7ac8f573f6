"""The payment port paid through HQ: request over MQTT, confirmation back, through a real broker."""

from __future__ import annotations

import queue
import time
from datetime import UTC, datetime

import pytest

port = pytest.importorskip("kiosk.payment.port")  # the session's port (branch session)

from kiosk.payment.hq_mqtt import OFFLINE, TIMEOUT, HqMqttPayment  # noqa: E402
from kiosk.sync import messages as m  # noqa: E402
from kiosk.sync.topics import DeviceTopics  # noqa: E402
from tests.sync.support import ManualClock, open_store  # noqa: E402
from tests.sync.test_drain import start_kiosk  # noqa: E402

PAY = DeviceTopics("S1", "D1").topic("payment")


@pytest.fixture
def env(mosquitto, tmp_path):
    store = open_store(tmp_path / "kiosk")
    kiosk = start_kiosk(store, mosquitto)
    kiosk.start_worker()
    bridge = mosquitto.client("hq")
    asked: queue.Queue = queue.Queue()
    bridge.on_message = lambda c, u, msg: asked.put(m.decode(msg.payload, "payment_request"))
    bridge.subscribe("kiosk/v1/+/+/payment_request", qos=1)
    assert kiosk.wait_until(lambda: kiosk.connected, 10, poll=False)
    time.sleep(0.3)
    yield kiosk, bridge, asked
    kiosk.stop()
    store.close()


def _until(method, state, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = method.poll()
        if status.state is state:
            return status
        time.sleep(0.02)
    return method.poll()


def test_paid_at_hq_confirms(env):
    kiosk, bridge, asked = env
    method = HqMqttPayment(kiosk.payments)
    assert method.unavailable_reason() == ""
    method.start(port.PaymentRequest("r1", "04A1B2C3", 5000))
    request = asked.get(timeout=5)
    assert (request.payment_ref, request.amount_fen) == ("hq:r1", 5000)
    assert method.poll().state is port.PaymentState.PENDING
    bridge.publish(PAY, m.encode(m.PaymentConfirmation("hq:r1", 5000, "paid", datetime.now(UTC))), qos=1)
    status = _until(method, port.PaymentState.CONFIRMED)
    assert (status.state, status.received_fen, status.payment_ref) == (port.PaymentState.CONFIRMED, 5000, "hq:r1")
    assert method.cancel().state is port.PaymentState.CONFIRMED  # money taken stays reported


def test_failed_timeout_and_cancel(env):
    kiosk, bridge, asked = env
    method = HqMqttPayment(kiosk.payments)
    method.start(port.PaymentRequest("r2", "04A1B2C3", 100))
    asked.get(timeout=5)
    bridge.publish(PAY, m.encode(m.PaymentConfirmation("hq:r2", 0, "failed", datetime.now(UTC))), qos=1)
    assert _until(method, port.PaymentState.FAILED).reason == "hq_failed"

    clock = ManualClock()
    slow = HqMqttPayment(kiosk.payments, timeout_s=180, clock=clock)
    slow.start(port.PaymentRequest("r3", "04A1B2C3", 100))
    asked.get(timeout=5)
    clock.advance(180)
    assert slow.poll().state is port.PaymentState.PENDING  # not before the timeout
    clock.advance(0.1)
    assert slow.poll().reason == TIMEOUT

    gone = HqMqttPayment(kiosk.payments)
    gone.start(port.PaymentRequest("r4", "04A1B2C3", 100))
    assert gone.cancel().reason == "cancelled"
    bridge.publish(PAY, m.encode(m.PaymentConfirmation("hq:r4", 100, "paid", datetime.now(UTC))), qos=1)
    time.sleep(0.5)
    assert gone.poll().state is port.PaymentState.FAILED  # a late confirmation is logged, not taken
    assert kiosk.counters.rejected["out_of_date"] == 1


def test_offline_is_unavailable(env, mosquitto):
    kiosk, bridge, asked = env
    mosquitto.kill()
    assert kiosk.wait_until(lambda: not kiosk.connected, 5, poll=False)
    method = HqMqttPayment(kiosk.payments)
    assert method.unavailable_reason() == OFFLINE
    with pytest.raises(port.PaymentUnavailable):
        method.start(port.PaymentRequest("r5", "04A1B2C3", 100))
