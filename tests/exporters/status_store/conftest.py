"""Fixtures of the status store tests: an empty store on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from posfleet.alerts.bridge.database import open_engine
from posfleet.exporters.status_store.schema import metadata
from tests.alerts.bridge.support import sqlalchemy_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A status store database URL, empty, on SQLite (temp file) and on PostgreSQL."""
    if request.param == "sqlite":
        yield str(tmp_path / "status.sqlite3")
        return
    url = sqlalchemy_url(request.getfixturevalue("postgres_dsn"))
    engine = open_engine(url)
    metadata.drop_all(engine)
    yield url
    metadata.drop_all(engine)
    engine.dispose()
