"""The store and device id alphabet, shared by topics and messages (each id is a topic segment)."""

from __future__ import annotations

import re

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
