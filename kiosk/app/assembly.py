"""The running kiosk's parts, opened and wired from its configuration: card keys, store, reader,
the simulated demo's seed, the sync client and the session (kiosk.app.wiring), and the till API.
`kiosk run` calls this after the idle screen's first frame (kiosk/app/startup.py); every import
of the rooms is inside, so importing this module costs nothing before then."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)


class RunError(Exception):
    """The kiosk cannot start; the message says why and what to do."""


class Kiosk:
    """What `kiosk run` assembled (store, session with its reader thread and hardware), and how to stop it."""

    def __init__(self, parts, store, reader, desk=None, sync=None):
        self.parts, self.store, self.reader, self.desk, self.sync = parts, store, reader, desk, sync

    def close(self) -> None:
        self.parts.close()
        if self.sync is not None:
            self.sync.stop()
        self.reader.close()
        self.store.close()


def build_kiosk(config, simulate: bool = False) -> Kiosk:
    """Open the store and the reader and wire the session (kiosk.app.wiring)."""
    from kiosk.app.logging_setup import use_install_salt
    from kiosk.app.wiring import build_session, site_keys_from
    from kiosk.reader.base import ReaderError
    from kiosk.reader.factory import open_reader
    from kiosk.reader.keys import KeyFileError
    from kiosk.store.store import Store, StoreError

    try:
        if simulate:
            from kiosk.app.simulate import demo_keys

            keys = demo_keys(config)
        else:
            keys = site_keys_from(config)
    except (KeyFileError, ValueError) as exc:
        raise RunError(f"card keys: {exc}") from None
    try:
        store = Store.open(config.device.data_dir, config.device.id, pepper=_pepper(config))
    except StoreError as exc:
        raise RunError(f"the store in {config.device.data_dir} cannot be opened: {exc}") from None
    use_install_salt(Path(config.device.data_dir))  # one card, one hash, across restarts
    try:
        reader = open_reader(config.reader)
    except (ReaderError, OSError) as exc:
        store.close()
        raise RunError(f"the card reader ({config.reader.driver} {config.reader.port}) cannot be opened: {exc}") from None
    desk = None
    if simulate:
        from kiosk.app.simulate import CardDesk, seed_demo

        seed_demo(store, reader, keys, datetime.now(UTC))
        desk = CardDesk(reader)
    sync = None
    if config.hq.host:
        from kiosk.sync.client import SyncClient, SyncSettings

        sync = SyncClient(store, SyncSettings.from_config(config))  # started once the session is (startup.py)
    parts = build_session(config, store, reader, keys, sync_client=sync)
    log.info("kiosk %s: store %s, reader %s, HQ %s, hardware: %s", config.device.id, config.device.data_dir,
             config.reader.driver, config.hq.host or "none (standalone)", parts.hardware.note)
    return Kiosk(parts, store, reader, desk, sync)


def start_till(session, config, post=None):
    """The till API on its own thread ([till] in kiosk.toml; kiosk/till/server.py)."""
    from kiosk.till.server import TillServer

    server = TillServer(session, config.till, config.device.data_dir, post=post).start()
    log.info("till API listening on %s (%d tills)", server.url, len(server.tokens.entries))
    return server


def _pepper(config) -> bytes:
    path = config.secrets.pin_pepper_file
    if path is None:
        return b""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise RunError(f"PIN pepper file {path}: {exc.strerror}") from None
