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


def _watched_d1(broker) -> tuple[mqtt.Client, list]:
    """The real D1: client id D1, its own credentials (certificate or password); records drops."""
    drops: list = []
    d1 = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="D1", protocol=mqtt.MQTTv5)
    if not broker.identity_as_username:
        d1.username_pw_set("D1", broker.password("D1"))
    if broker.tls:
        cert, key = broker.tls.client_certs["D1"]
        d1.tls_set(ca_certs=str(broker.tls.ca), certfile=str(cert), keyfile=str(key))
    d1.on_disconnect = lambda c, u, flags, rc, props: drops.append(str(rc))
    d1.connect(broker.host, broker.port, keepalive=30)
    d1.loop_start()
    time.sleep(0.3)
    assert d1.is_connected()
    return d1, drops


def _impostor_tries(broker, times: int = 3) -> None:
    """D2's credentials, asking for client id D1, connecting again and again."""
    for _ in range(times):
        try:
            broker.client("D2", client_id="D1", timeout=2).disconnect()
        except ConnectionError:
            pass
        time.sleep(0.2)


@pytest.mark.parametrize("certificates", [False, True], ids=["password", "certificate"])
def test_an_impostor_cannot_take_over_another_kiosks_client_id(mosquitto_factory, certificates):
    broker = mosquitto_factory(bind_client_ids=True, identity_as_username=certificates)
    d1, drops = _watched_d1(broker)
    _impostor_tries(broker)
    time.sleep(0.5)
    assert drops == [] and d1.is_connected()
    assert "Client D1 already connected" not in broker.log.read_text()
    hq = broker.client("hq")  # HQ on its own listener: several HQ clients keep their own ids
    seen = _collect(hq, "kiosk/v1/+/+/events")
    _publish(d1, DeviceTopics("S1", "D1").events, b"still me")
    assert _drain(seen) == [("kiosk/v1/S1/D1/events", b"still me")]
    d1.loop_stop()


def test_without_the_binding_the_impostor_does_take_over(mosquitto_factory):
    """The check above can fail: the old layout (client id chosen by the client) lets D2 drop D1."""
    broker = mosquitto_factory()
    d1, drops = _watched_d1(broker)
    _impostor_tries(broker, times=1)
    time.sleep(0.5)
    assert drops, "D1 was expected to be knocked off"
    d1.loop_stop()


def test_device_credentials_are_refused_on_the_hq_listener(mosquitto_factory):
    broker = mosquitto_factory(bind_client_ids=True)
    bare = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="D1", protocol=mqtt.MQTTv5)
    bare.username_pw_set("D1", broker.password("D1"))
    result: list = []
    bare.on_connect = lambda c, u, flags, rc, props: result.append(rc)
    bare.connect(broker.host, broker.hq_port, keepalive=5)
    bare.loop_start()
    deadline = time.monotonic() + 5
    while not result and time.monotonic() < deadline:
        time.sleep(0.05)
    bare.loop_stop()
    assert result and result[0].is_failure
