"""HQ tests run against both engines: SQLite in a temp dir and a real PostgreSQL server."""

from __future__ import annotations

import pytest

from kiosk.hq.db import open_database
from kiosk.hq.schema import create_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def hq_url(request, tmp_path):
    """A fresh, empty HQ database URL for each engine."""
    if request.param == "sqlite":
        return str(tmp_path / "hq.sqlite3")
    return request.getfixturevalue("postgres_dsn")


@pytest.fixture
def hq_db(hq_url):
    db = open_database(hq_url)
    create_schema(db)
    yield db
    db.close()
