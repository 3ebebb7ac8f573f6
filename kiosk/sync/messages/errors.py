"""Why a message is rejected: one error type and the reason names the kiosk counts in its status."""

from __future__ import annotations

OVERSIZED = "oversized"
NOT_JSON = "not_json"
MALFORMED = "malformed"
UNKNOWN_TYPE = "unknown_type"
UNSUPPORTED_VERSION = "unsupported_version"
WRONG_TOPIC = "wrong_topic"
OUT_OF_DATE = "out_of_date"  # decided by the receiver (versions, sequences), not the decoder
REASONS = (OVERSIZED, NOT_JSON, MALFORMED, UNKNOWN_TYPE, UNSUPPORTED_VERSION, WRONG_TOPIC, OUT_OF_DATE)


class MessageError(ValueError):
    """A message that does not follow its schema. `field` is a dotted path, e.g. txns[3].seq."""

    def __init__(self, msg_type: str, field_name: str, problem: str, reason: str = MALFORMED):
        self.msg_type, self.field, self.problem, self.reason = msg_type, field_name, problem, reason
        super().__init__(f"{msg_type or 'message'}: {field_name}: {problem}")
