"""An HQ receiver inside the calling process, for `kiosk demo` and tests:

    with start_receiver("/tmp/demo/hq.sqlite3", "127.0.0.1", 1883, "hq", password) as hq:
        ...  # kiosks publish; hq.db holds what arrived; kiosk.hq.admin.block_card(hq.db, uid, "lost")

For the demo's top-ups paid "through HQ", pass payment_provider=kiosk.hq.payments.approve_all_for_demo.
It is the same Receiver `kiosk hq serve` runs (its own thread and database connection); the
context manager waits until it is subscribed and stops it on exit."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from kiosk.hq.broker import BrokerSettings
from kiosk.hq.db import open_database
from kiosk.hq.receiver import Receiver
from kiosk.hq.schema import create_schema


@contextmanager
def start_receiver(
    db_url: str | Path,
    host: str,
    port: int,
    username: str = "hq",
    password: str = "",
    group: str = "hq",
    client_id: str | None = None,
    tls_ca: Path | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    payment_provider=None,
):
    """Yields the running Receiver; `.db` there is for its worker only, so this also opens
    `.admin_db`, a second connection for the caller (admin operations, queries)."""
    broker = BrokerSettings(host, port, username, password, tls_ca, tls_cert, tls_key)
    extra = {"payment_provider": payment_provider} if payment_provider else {}
    receiver = Receiver(str(db_url), broker, group=group, client_id=client_id, **extra).start()
    receiver.ready.wait(10)
    admin_db = open_database(str(db_url))
    create_schema(admin_db)
    receiver.admin_db = admin_db
    try:
        yield receiver
    finally:
        admin_db.close()
        receiver.stop()
