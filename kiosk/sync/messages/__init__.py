"""Every MQTT message type, its schema version, its encoder and its strict decoder.

A payload is a UTF-8 JSON object {"type": ..., "v": ..., ...fields}. Decoding checks the size
first, then the JSON (no NaN, no duplicate keys), then every field; any problem raises
MessageError naming the message type, the field and the reason, and builds nothing. Both ends
(kiosk and HQ) use these functions, so a message one side accepts the other side produced.

Each message class declares its own spec (spec.py); registry.py lists the classes once and
builds everything else from that list. This package's namespace is the one callers use:
`from kiosk.sync import messages as m`."""

from kiosk.sync.messages.device import CONFIG_LIMITS, RESYNC_WHAT, STATES, ConfigUpdate, Resync, Status
from kiosk.sync.messages.errors import (
    MALFORMED,
    NOT_JSON,
    OUT_OF_DATE,
    OVERSIZED,
    REASONS,
    UNKNOWN_TYPE,
    UNSUPPORTED_VERSION,
    WRONG_TOPIC,
    MessageError,
)
from kiosk.sync.messages.fields import MAX_TEXT, is_uid
from kiosk.sync.messages.holdings import MAX_BLOCKED, BlockedDelta, BlockedList, RulesUpdate, Snapshot
from kiosk.sync.messages.incidents import (
    MAX_DETAIL_KEYS,
    MAX_INCIDENTS,
    Incident,
    Incidents,
    IncidentsAck,
    decode_incident,
)
from kiosk.sync.messages.notes import NoteLine, StoreNotes
from kiosk.sync.messages.payments import OUTCOMES, HqPaymentRequest, PaymentConfirmation
from kiosk.sync.messages.registry import (
    MAX_ANY,
    MAX_BYTES,
    MESSAGES,
    REGISTRY,
    SPECS,
    VERSIONS,
    decode,
    encode,
    parse_json,
    to_dict,
)
from kiosk.sync.messages.spec import Message, MessageSpec, Place
from kiosk.sync.messages.store_sync import (
    DELTAS_GONE_REASONS,
    ROW_TABLES,
    AccountDelta,
    DeltasUnavailable,
    MemberAnswer,
    MemberRequest,
    MemberRows,
    SnapshotChunk,
    SnapshotRequest,
)
from kiosk.sync.messages.transactions import MAX_ACKED, MAX_BATCH, Ack, Events, ranges_of

__all__ = [
    "CONFIG_LIMITS", "MALFORMED", "MAX_ACKED", "MAX_ANY", "MAX_BATCH", "MAX_BLOCKED", "MAX_BYTES",
    "MAX_DETAIL_KEYS", "MAX_INCIDENTS", "MAX_TEXT", "MESSAGES", "NOT_JSON", "OUTCOMES", "OUT_OF_DATE",
    "OVERSIZED", "REASONS", "REGISTRY", "RESYNC_WHAT", "SPECS", "STATES", "UNKNOWN_TYPE",
    "UNSUPPORTED_VERSION", "VERSIONS", "WRONG_TOPIC", "Ack", "ROW_TABLES", "AccountDelta", "MemberAnswer",
    "MemberRequest", "MemberRows", "SnapshotChunk", "SnapshotRequest", "BlockedDelta", "BlockedList", "ConfigUpdate",
    "Events", "Incident", "Incidents", "IncidentsAck", "Message", "MessageError", "MessageSpec", "NoteLine",
    "PaymentConfirmation", "HqPaymentRequest", "Place", "Resync", "RulesUpdate", "Snapshot", "Status", "StoreNotes",
    "DELTAS_GONE_REASONS", "DeltasUnavailable", "decode", "decode_incident", "encode", "is_uid", "parse_json", "ranges_of", "to_dict",
]
