"""A re-run of `kiosk provision` on a provisioned kiosk: the keys it owns are written from the
answers, and every other section and key of the kiosk.toml already there ([printer], [session],
[gpio], hq.keepalive_s, till.tokens_file... added by hand) is kept as it was, with the comments
and layout a technician gave the file (tomlkit edits the document in place; tomli_w could only
write a new one from the values, losing every comment).

Provision owns a fixed set of keys, whatever this run's answers: a key it owns and no longer
writes (a reader port for a driver that takes none) goes, one it does not own is never touched."""

from __future__ import annotations

import tomllib
from pathlib import Path

import tomlkit

HEADER = "# Written by `kiosk provision`. Re-run it to change a value; `kiosk doctor` checks it.\n"

OWNED: dict[str, frozenset[str]] = {
    "device": frozenset({"id", "store", "data_dir", "locale", "screen", "rotation", "role"}),
    "reader": frozenset({"driver", "port"}),
    "hq": frozenset({"host", "port", "tls_ca", "tls_cert", "tls_key"}),
    "secrets": frozenset({"card_system_id", "card_master_key_file", "pin_pepper_file"}),
    "rules": frozenset({"file"}),
    "till": frozenset({"enabled", "host", "port", "tls_cert", "tls_key"}),
}


class ExistingConfigError(ValueError):
    """The kiosk.toml already there cannot be read, so its own sections could not be kept."""


def read_existing(path: Path, shown_as: str) -> str:
    """The text of the configuration already at `path` ("" when there is none), checked to be TOML."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise ExistingConfigError(f"{shown_as}: cannot be read ({exc.strerror}): fix its permissions") from None
    try:
        text = raw.decode("utf-8")
        tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ExistingConfigError(
            f"{shown_as}: not valid TOML ({exc}): fix it, or move it aside to provision from scratch "
            "(its hand-added sections would be lost)"
        ) from None
    return text


def merged(existing: str, ours: dict) -> str:
    """The text of `existing` with the keys provision owns set from `ours` (the keys it writes now)
    or removed, everything else as it was; a table of provision's left empty goes. A new file
    starts with HEADER."""
    doc = tomlkit.parse(existing) if existing else tomlkit.parse(HEADER)
    for section, keys in OWNED.items():
        table = doc.get(section)
        if not isinstance(table, dict):
            continue
        for key in keys - ours.get(section, {}).keys():
            table.pop(key, None)
        if not table and section not in ours:
            del doc[section]
    for section, values in ours.items():
        if not isinstance(doc.get(section), dict):
            doc[section] = tomlkit.table()
        for key, value in values.items():
            doc[section][key] = value
    return tomlkit.dumps(doc)


def changes(existing: dict, after: dict) -> list[str]:
    """One line per key provision set, changed or dropped ("section.key: old -> new"), then the
    sections and keys it kept that are not its own."""
    lines = []
    for section in sorted(OWNED):
        old, new = _table(existing, section), _table(after, section)
        for key in sorted(OWNED[section] & (old.keys() | new.keys())):
            if key not in new:
                lines.append(f"{section}.{key}: {old[key]!r} removed")
            elif key not in old:
                lines.append(f"{section}.{key}: set to {new[key]!r}")
            elif old[key] != new[key]:
                lines.append(f"{section}.{key}: {old[key]!r} -> {new[key]!r}")
    kept = []
    for section in existing:
        if section in OWNED:
            kept += [f"{section}.{key}" for key in _table(existing, section) if key not in OWNED[section]]
        else:
            kept.append(f"[{section}]")
    if kept:
        lines.append("kept as they were (not provision's): " + ", ".join(sorted(kept)))
    return lines


def _table(data: dict, section: str) -> dict:
    table = data.get(section, {})
    return table if isinstance(table, dict) else {}
