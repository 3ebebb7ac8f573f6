"""HQ answers a kiosk asking for a member it does not hold (protocol v2, MQTT 5 request/response).

The answer goes to the request's response topic with its correlation data, and only when that
topic is the asking kiosk's own `member` topic (a request cannot make HQ publish elsewhere). The
member is then noted as seen at the kiosk's store, so its account deltas follow it there."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from kiosk.hq.db import Database
from kiosk.hq.rows import ROWS
from kiosk.hq.store_feed import mark_seen
from kiosk.hq.store_snapshots import rows_texts
from kiosk.sync import messages as m
from kiosk.sync.topics import DeviceTopics

log = logging.getLogger(__name__)


def answer_member(db: Database, client, store: str, request: m.MemberRequest, properties) -> bool:
    """Publish the member's rows (none if HQ knows no such card); False when not answerable."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    own = DeviceTopics(store, request.device).topic("member")
    reply_to = getattr(properties, "ResponseTopic", None)
    correlation = getattr(properties, "CorrelationData", None)
    if reply_to != own or not correlation:
        log.info("member request from %s without its own response topic and correlation data: not answered",
                 request.device)
        return False
    now = datetime.now(UTC)
    row = db.one("SELECT member_id FROM cards WHERE uid = ?", (request.card_uid,))
    applied = db.one("SELECT applied_seq FROM progress WHERE device_id = ?", (request.device,))
    texts = rows_texts(db, [row[0]] if row else [])  # read after `applied`: they hold at least that
    rows = m.MemberRows(*(tuple(ROWS.get(cls, t) for t in texts[name]) for name, cls in m.ROW_TABLES))
    payload = m.encode(m.MemberAnswer(request.card_uid, int(applied[0]) if applied else 0, rows, now))
    props = Properties(PacketTypes.PUBLISH)
    props.CorrelationData = bytes(correlation)
    client.publish(own, payload, qos=1, properties=props)
    if row:
        mark_seen(db, row[0], store, now)
    return True
