"""Kiosks broken on purpose, so the campaigns can be shown to catch what they look for.

The switch is the environment variable KIOSK_BROKEN of a campaign's kiosk process
(tests/sync/kiosk_session_proc.py, tests/sync/kiosk_soak_proc.py); production code is never
changed, only its seams are replaced in that process:

- `forget_before_ack`: the sync client forgets each batch of the outbox as soon as the broker has
  taken it (the PUBACK), not on HQ's ack after HQ's commit: docs/protocol.md's "delivery is end to
  end" broken. Lost whenever HQ is not there to receive (the broker drops a shared subscription's
  message with no subscriber) or the broker dies holding it.
- `no_fsync`: the store's fsync and fdatasync return without syncing (kiosk/store/files.py's seam).
  A SIGKILL keeps the page cache, so this is NOT visible to a SIGKILL campaign: only a power cut
  shows it (tests/crash_states.py, tests/test_store_powercut.py).
- `leak`: the sync client keeps a file descriptor and 1 MiB of memory for every batch it
  publishes, as a client that never closed what it opened would: what the soak's RSS and fd
  watch is for."""

from __future__ import annotations

import contextlib
import os

from kiosk.store import files
from kiosk.sync import messages as m
from kiosk.sync.client import SyncClient

MODES = ("", "forget_before_ack", "no_fsync", "leak")


def mode() -> str:
    """The chosen breakage ('' for a correct kiosk); an unknown name is a mistake in the test."""
    chosen = os.environ.get("KIOSK_BROKEN", "")
    if chosen not in MODES:
        raise SystemExit(f"KIOSK_BROKEN={chosen!r}: not one of {MODES}")
    return chosen


class ForgetsBeforeHqAck(SyncClient):
    """BROKEN: forgets a batch once the broker has queued it, without waiting for HQ's ack."""

    def _publish(self, topic: str, msg: m.Message) -> int:
        rc = super()._publish(topic, msg)
        if rc == 0 and isinstance(msg, m.Events):
            self.store.ack(t.txn_id for t in msg.txns)
        return rc


class Leaks(SyncClient):
    """BROKEN: holds on to a file descriptor and 1 MiB for every batch published."""

    def _publish(self, topic: str, msg: m.Message) -> int:
        if isinstance(msg, m.Events):
            self.__dict__.setdefault("_leaked", []).append((open(os.devnull, "rb"), b"\x01" * (1 << 20)))  # noqa: SIM115
        return super()._publish(topic, msg)


class NoSyncDisk(files.Disk):
    """BROKEN: fsync and fdatasync do nothing (the data stays in the page cache)."""

    fsync = staticmethod(lambda fd: None)
    fdatasync = staticmethod(lambda fd: None)


def client_class() -> type[SyncClient]:
    return {"forget_before_ack": ForgetsBeforeHqAck, "leak": Leaks}.get(mode(), SyncClient)


def disk() -> contextlib.AbstractContextManager:
    """Wrap the whole kiosk process in this: the broken disk when asked, else the real one."""
    return files.use(NoSyncDisk()) if mode() == "no_fsync" else contextlib.nullcontext()
