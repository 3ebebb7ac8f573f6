"""Things HQ must hear about that are not money transactions: a blocked card presented, a
payment abandoned with money counted, money taken but not credited, a failed card write.

Appended as JSON lines and fsynced before the session moves on, so a power cut keeps them;
the sync client reads them from here and forwards them to HQ."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Incident:
    at: datetime
    kind: str  # blocked_card_presented, payment_abandoned, payment_failed, paid_not_credited, ...
    card_uid: str = ""
    detail: dict = field(default_factory=dict)  # JSON-ready; never PINs or keys

    def to_dict(self) -> dict:
        return {"at": self.at.isoformat(), "kind": self.kind, "card_uid": self.card_uid, "detail": self.detail}


class IncidentLog:
    """An append-only, fsynced JSON-lines file (one incident per line)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def record(self, incident: Incident) -> None:
        line = json.dumps(incident.to_dict(), ensure_ascii=False, sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        log.info("incident %s card=%s", incident.kind, incident.card_uid)

    def read_all(self) -> list[dict]:
        """Every complete record; a torn last line (power cut mid-append) is skipped."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        out = []
        for line in raw.splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
        return out
