"""The [till] table of kiosk.toml: whether the till API runs, where, and with which files.
Off by default: a kiosk without a till opens no port."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kiosk.app.config_error import ConfigError

DEFAULT_PORT = 8765
TOKENS_FILE_NAME = "till-tokens.json"  # in the data_dir unless tokens_file says otherwise


@dataclass(frozen=True)
class TillSettings:
    enabled: bool = False
    host: str = "127.0.0.1"  # the till on the same machine; a till on the store's LAN needs the kiosk's address
    port: int = DEFAULT_PORT
    tokens_file: Path | None = None  # None: data_dir/till-tokens.json
    tls_cert: Path | None = None  # both set: HTTPS with the kiosk's certificate
    tls_key: Path | None = None

    def tokens_path(self, data_dir: Path) -> Path:
        return self.tokens_file or data_dir / TOKENS_FILE_NAME


def parse_till(table: object, source: str = "<memory>") -> TillSettings:
    if not isinstance(table, dict):
        raise ConfigError(source, "till", "must be a table ([till])")
    known = {"enabled", "host", "port", "tokens_file", "tls_cert", "tls_key"}
    for key in table:
        if key not in known:
            raise ConfigError(source, f"till.{key}", f"unknown setting (expected one of {sorted(known)})")
    values: dict = {}
    if "enabled" in table:
        if not isinstance(table["enabled"], bool):
            raise ConfigError(source, "till.enabled", "must be true or false")
        values["enabled"] = table["enabled"]
    if "host" in table:
        host = table["host"]
        if not isinstance(host, str) or not 1 <= len(host) <= 253 or any(c.isspace() for c in host):
            raise ConfigError(source, "till.host", 'must be an address to listen on, like "127.0.0.1" or "0.0.0.0"')
        values["host"] = host
    if "port" in table:
        port = table["port"]
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ConfigError(source, "till.port", f"must be an integer 1..65535, like {DEFAULT_PORT}")
        values["port"] = port
    for key in ("tokens_file", "tls_cert", "tls_key"):
        value = table.get(key, "")
        if not isinstance(value, str) or (value and (not value.startswith("/") or "\x00" in value)):
            raise ConfigError(source, f"till.{key}", f"must be an absolute path like /etc/kiosk/{key}, or left out")
        if value:
            values[key] = Path(value)
    if ("tls_cert" in values) != ("tls_key" in values):
        raise ConfigError(source, "till.tls_key", "tls_cert and tls_key must be given together")
    return TillSettings(**values)
