"""The kiosk's MQTT connection, and nothing else: a thin adapter over paho-mqtt.

It connects (MQTT 5, persistent session, last will), reconnects with backoff and jitter on its
own network thread, subscribes the kiosk's topics, and hands every received message to
`on_message` on that thread. It never touches the store and knows no message schema: the sync
client (kiosk/sync/client.py) decides what to send and what a message means."""

from __future__ import annotations

import logging
import random
import socket
import threading
from collections.abc import Callable

from kiosk.sync.settings import SyncSettings

log = logging.getLogger("kiosk.sync")


def backoff_delay(attempt: int, low: float, high: float, rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter: a random delay between half and all of min(high, low*2^n)."""
    step = min(high, low * (2 ** min(attempt, 30)))
    return step / 2 + rand() * step / 2


def no_delay(client) -> None:
    """TCP_NODELAY on the client's socket: a small request (a member fetched at a tap) goes out
    now, not after the peer's delayed ACK (tens of ms with Nagle's algorithm)."""
    sock = client.socket()
    if sock is not None and hasattr(sock, "setsockopt"):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # e.g. not a TCP socket: nothing to tune


class MqttLink:
    """One paho client on one network thread."""

    def __init__(
        self,
        settings: SyncSettings,
        subscriptions: list[tuple[str, int]],
        on_message: Callable[[str, bytes], None],
        last_will: Callable[[], tuple[str, bytes]],
        on_error: Callable[[str], None],
    ):
        import paho.mqtt.client as mqtt

        self.settings, self._subscriptions = settings, subscriptions
        self._on_message_cb, self._last_will, self._on_error = on_message, last_will, on_error
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.new_session = threading.Event()  # set on each CONNACK; the owner rewinds what it sent
        self._stopping = threading.Event()  # wakes every wait; the network thread returns
        self._closing = threading.Event()  # stop() has begun: do not reconnect
        self._thread: threading.Thread | None = None
        # a reply carrying MQTT 5 correlation data goes here first (True: taken; member_fetch.py)
        self.on_response: Callable[[bytes, str, bytes], bool] | None = None
        self._mqtt = self._make_client(mqtt)

    def _make_client(self, mqtt):
        s = self.settings
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=s.device_id, protocol=mqtt.MQTTv5, reconnect_on_failure=False
        )
        client.username_pw_set(s.username or s.device_id, s.password or None)
        if s.tls_ca or s.tls_cert:
            client.tls_set(
                ca_certs=str(s.tls_ca) if s.tls_ca else None,
                certfile=str(s.tls_cert) if s.tls_cert else None,
                keyfile=str(s.tls_key) if s.tls_key else None,
            )
        client.max_inflight_messages_set(max(20, s.window_batches * 2))
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = lambda client, userdata, msg: self._deliver(msg)
        client.on_subscribe = self._on_subscribe
        return client

    def start(self) -> None:
        """Start the network thread (connects, and reconnects with backoff)."""
        self._stopping.clear()
        self._closing.clear()
        self._thread = threading.Thread(target=self._network_loop, name="kiosk-sync-net", daemon=True)
        self._thread.start()

    def stop(self, last_words: tuple[str, bytes] | None, timeout: float = 5.0) -> None:
        """Publish `last_words` (topic, payload; retained) if connected, disconnect cleanly, end the thread."""
        self._closing.set()
        if self.connected.is_set():
            if last_words:
                try:
                    info = self._mqtt.publish(*last_words, qos=1, retain=True)
                    info.wait_for_publish(timeout)
                except (RuntimeError, ValueError, OSError) as exc:
                    log.warning("could not publish offline status: %s", exc)
            self._mqtt.disconnect()
        self._stopping.set()
        if self._thread:
            self._thread.join(timeout)
        self._thread = None

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False, properties=None) -> int:
        """Queue one message for the network thread; paho's return code (0: queued)."""
        return self._mqtt.publish(topic, payload, qos=qos, retain=retain, properties=properties).rc

    def _deliver(self, msg) -> None:
        correlation = getattr(getattr(msg, "properties", None), "CorrelationData", None)
        if correlation is not None and self.on_response is not None and self.on_response(
            bytes(correlation), msg.topic, msg.payload
        ):
            return
        self._on_message_cb(msg.topic, msg.payload)

    def _network_loop(self) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        s = self.settings
        attempt = 0
        while not (self._stopping.is_set() or self._closing.is_set()):
            try:
                topic, payload = self._last_will()
                self._mqtt.will_set(topic, payload, qos=1, retain=True)
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = s.session_expiry_s
                self._mqtt.connect(s.host, s.port, s.keepalive_s, clean_start=False, properties=props)
            except (OSError, ValueError) as exc:
                self._on_error(f"connect to {s.host}:{s.port}: {exc}")
                self._stopping.wait(backoff_delay(attempt, s.backoff_min_s, s.backoff_max_s))
                attempt += 1
                continue
            while not self._stopping.is_set():
                rc = self._mqtt.loop(timeout=0.05)
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    break
                if self.connected.is_set():
                    attempt = 0
            self.connected.clear()
            self.subscribed.clear()
            if self._closing.is_set() or self._stopping.is_set():
                return
            self._stopping.wait(backoff_delay(attempt, s.backoff_min_s, s.backoff_max_s))
            attempt += 1

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._on_error(f"broker refused the connection: {reason_code}")
            return
        no_delay(client)
        self.connected.set()
        self.new_session.set()
        client.subscribe(self._subscriptions)
        log.info("connected to %s:%s (session present: %s)", self.settings.host, self.settings.port, flags.session_present)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        failed = [rc for rc in reason_codes if rc.is_failure]
        if failed:
            self._on_error(f"subscription refused: {failed[0]}")
        self.subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if reason_code.is_failure:
            self._on_error(f"disconnected: {reason_code}")
