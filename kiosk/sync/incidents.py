"""Reading the kiosk's incident log (JSON lines, appended and fsynced by the session) for HQ.

The log is append-only; an incident's id is the byte offset of its line. The sync client keeps
how far HQ has acknowledged (`through`) in the store's meta and reads on from there. Only
complete lines count: a torn last line (power cut mid-append) waits until it is completed or
followed by a newline. A line that is not a valid incident is skipped, logged, and counted."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk.sync.messages import Incident, MessageError, decode_incident

log = logging.getLogger("kiosk.sync.incidents")

META_KEY = "sync.incidents_through"
MAX_LINE = 16 * 1024


@dataclass(frozen=True)
class IncidentBatch:
    items: tuple[Incident, ...]
    next_offset: int  # where reading continues after these (and after any skipped lines)
    skipped: int  # lines that were not valid incidents


class IncidentSender:
    """When to send the incident log to HQ: one message in flight, sent again after the ack timeout
    or a reconnect, the log looked at once a second otherwise. The cursor (in the store's meta,
    kept by the sync client) moves only on HQ's ack. Time comes from an injected clock."""

    CHECK_EVERY_S = 1.0

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.inflight = 0  # next_offset of the message awaiting HQ's ack (0: none)
        self._sent_at = self._checked_at = float("-inf")

    def due(self, ack_timeout_s: float) -> bool:
        """Whether to read the log and send now."""
        now = self.clock()
        if self.inflight and now - self._sent_at < ack_timeout_s:
            return False
        if not self.inflight and now - self._checked_at < self.CHECK_EVERY_S:
            return False
        self._checked_at = now
        return True

    def sent(self, next_offset: int) -> None:
        self.inflight, self._sent_at = next_offset, self.clock()

    def idle(self) -> None:
        """Nothing in flight (nothing to send, or a reconnect: send again from the cursor)."""
        self.inflight = 0

    def acked(self, through: int) -> None:
        if through >= self.inflight:
            self.inflight = 0
            self._checked_at = float("-inf")  # send the next ones at once


def read_incidents(path: Path, offset: int, max_items: int = 100, max_bytes: int = 256 * 1024) -> IncidentBatch:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            chunk = fh.read(max_bytes)
    except FileNotFoundError:
        return IncidentBatch((), offset, 0)
    items: list[Incident] = []
    skipped = 0
    pos = 0
    while len(items) < max_items:
        end = chunk.find(b"\n", pos)
        if end < 0:
            if pos == 0 and len(chunk) >= max_bytes:  # one absurdly long line: skip to its end
                skipped += 1
                pos = _skip_long_line(path, offset + len(chunk)) - offset
            break
        line = chunk[pos:end]
        line_offset = offset + pos
        pos = end + 1
        if not line.strip():
            continue
        incident = _parse(line, line_offset)
        if incident is None:
            skipped += 1
        else:
            items.append(incident)
    return IncidentBatch(tuple(items), offset + pos, skipped)


def _parse(line: bytes, offset: int) -> Incident | None:
    if len(line) > MAX_LINE:
        log.warning("incident at offset %d: line of %d bytes skipped", offset, len(line))
        return None
    try:
        data = json.loads(line.decode("utf-8"))
        if not isinstance(data, dict) or "offset" in data:
            raise ValueError("not an incident object")
        return decode_incident({**data, "offset": offset}, f"incident@{offset}")
    except (UnicodeDecodeError, ValueError, RecursionError, MessageError) as exc:
        log.warning("incident at offset %d skipped: %s", offset, str(exc)[:200])
        return None


def _skip_long_line(path: Path, start: int) -> int:
    with open(path, "rb") as fh:
        fh.seek(start)
        while True:
            block = fh.read(64 * 1024)
            if not block:
                return start
            end = block.find(b"\n")
            if end >= 0:
                return start + end + 1
            start += len(block)
