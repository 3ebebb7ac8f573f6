"""The one answer an operation gives when the rules or the state do not allow it."""

from __future__ import annotations


class Refused(Exception):
    """An operation the rules or the state do not allow; nothing was written."""

    def __init__(self, code: str, detail: str = ""):
        self.code, self.detail = code, detail
        super().__init__(f"{code}: {detail}" if detail else code)
