"""The test broker enforces the protocol's access control: a device publishes only as itself."""

from __future__ import annotations

import queue
import time

import paho.mqtt.client as mqtt
import pytest

from kiosk.sync.topics import DeviceTopics


def _collect(client, topic_filter: str) -> queue.Queue:
    got: queue.Queue = queue.Queue()
    client.on_message = lambda c, u, msg: got.put((msg.topic, msg.payload))
    done = client.subscribe(topic_filter, qos=1)
    assert done[0] == mqtt.MQTT_ERR_SUCCESS
    time.sleep(0.2)
    return got


def _publish(client, topic: str, payload: bytes):
    info = client.publish(topic, payload, qos=1)
    info.wait_for_publish(5)
    return info


def _drain(got: queue.Queue, wait: float = 0.5) -> list:
    time.sleep(wait)
    out = []
    while not got.empty():
        out.append(got.get())
    return out


def test_device_publishes_only_as_itself(mosquitto):
    hq = mosquitto.client("hq")
    seen = _collect(hq, "kiosk/v1/#")
    d1 = mosquitto.client("D1")
    own, other = DeviceTopics("S1", "D1"), DeviceTopics("S1", "D2")
    _publish(d1, own.events, b"mine")
    _publish(d1, other.events, b"forged")  # device A posing as device B
    _publish(d1, own.ack, b"self-ack")  # a device never writes an ack, not even its own
    _publish(d1, DeviceTopics("S2", "D1").events, b"other store")
    got = _drain(seen)
    assert got == [(own.events, b"mine")]


def test_device_reads_only_its_own_down_topics(mosquitto):
    d1 = mosquitto.client("D1")
    seen = _collect(d1, "kiosk/v1/#")
    hq = mosquitto.client("hq")
    _publish(hq, DeviceTopics("S1", "D1").ack, b"for d1")
    _publish(hq, DeviceTopics("S1", "D2").ack, b"for d2")
    _publish(hq, "kiosk/v1/_chain/blocked_delta", b"chain")
    _publish(hq, "kiosk/v1/S2/_store/rules", b"other store")
    got = sorted(p for _, p in _drain(seen))
    assert got == [b"chain", b"for d1"]


def test_wrong_password_is_refused(mosquitto):
    mosquitto.passwords["D1"] = "not-the-password"
    with pytest.raises(ConnectionError):
        mosquitto.client("D1", timeout=2)


def test_tls_with_client_certificate(mosquitto_factory):
    broker = mosquitto_factory(tls=True)
    hq = broker.client("hq")
    seen = _collect(hq, "kiosk/v1/+/+/events")
    d1 = broker.client("D1")
    _publish(d1, DeviceTopics("S1", "D1").events, b"over tls")
    assert _drain(seen) == [("kiosk/v1/S1/D1/events", b"over tls")]
    # without a client certificate the TLS handshake is refused
    bare = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="nocert", protocol=mqtt.MQTTv5)
    bare.username_pw_set("D1", broker.password("D1"))
    bare.tls_set(ca_certs=str(broker.tls.ca))
    with pytest.raises(OSError):
        bare.connect(broker.host, broker.port, keepalive=5)
        for _ in range(20):
            if bare.loop(0.1) != mqtt.MQTT_ERR_SUCCESS:
                raise OSError("connection dropped")
        assert not bare.is_connected()
