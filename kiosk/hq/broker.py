"""How HQ reaches the MQTT broker: settings, and a connected paho-mqtt (MQTT 5) client."""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from kiosk.sync import messages as m
from kiosk.sync.link import no_delay
from kiosk.sync.topics import parse_topic

log = logging.getLogger(__name__)


class BrokerUnreachable(ConnectionError):
    """The broker refused or did not answer; the message says where and why (no password)."""


@dataclass(frozen=True)
class BrokerSettings:
    host: str
    port: int = 1883
    username: str = "hq"
    password: str = ""
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    keepalive_s: int = 30

    def __repr__(self) -> str:  # never show the password
        return f"BrokerSettings({self.username}@{self.host}:{self.port}, tls={bool(self.tls_ca)})"


def connect(
    settings: BrokerSettings,
    client_id: str | None = None,
    manual_ack: bool = False,
    on_connect=None,
    on_message=None,
    timeout: float = 10.0,
):
    """A paho client with its network loop running, connected (clean start: a receiver that dies
    leaves no session behind to hoard its share of the fleet's messages). `on_message` is in place
    before the connection: messages can arrive (retained ones, at the subscribe `on_connect` makes)
    before this returns, and paho drops a message no handler takes."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id or f"hq-{secrets.token_hex(4)}",
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    if settings.username:
        client.username_pw_set(settings.username, settings.password or None)
    if settings.tls_ca:
        client.tls_set(
            ca_certs=str(settings.tls_ca),
            certfile=str(settings.tls_cert) if settings.tls_cert else None,
            keyfile=str(settings.tls_key) if settings.tls_key else None,
        )
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(1, 30)
    first = threading.Event()
    result: dict = {}

    def _on_connect(c, userdata, flags, reason_code, properties):
        result["rc"] = reason_code
        no_delay(c)
        first.set()
        if on_connect is not None and not reason_code.is_failure:
            on_connect(c)

    client.on_connect = _on_connect
    client.on_message = on_message
    try:
        client.connect(settings.host, settings.port, keepalive=settings.keepalive_s, clean_start=True)
    except OSError as exc:
        raise BrokerUnreachable(f"cannot reach the broker at {settings.host}:{settings.port}: {exc}") from None
    client.loop_start()
    if not first.wait(timeout) or result["rc"].is_failure:
        client.loop_stop()
        raise BrokerUnreachable(f"broker {settings.host}:{settings.port} refused {settings.username}: {result.get('rc')}")
    return client


def publish_message(client, topic: str, msg: m.Message, timeout: float = 10.0) -> None:
    """Publish one HQ -> kiosk message with the QoS and retain flag its spec gives the topic's scope
    (kiosk/sync/messages), and wait for the broker's PUBACK (HQ keeps the truth in SQL, so a lost
    publish is repaired by the next one or a kiosk's resync; waiting keeps commands honest).
    A message on a topic that carries another type is a bug, refused here."""
    parsed = parse_topic(topic)
    if parsed.message_type != msg.TYPE or parsed.up:
        raise ValueError(f"a {msg.TYPE} message cannot go on {topic}")
    info = client.publish(topic, m.encode(msg), qos=msg.SPEC.qos, retain=msg.SPEC.retained(parsed.scope))
    info.wait_for_publish(timeout)


