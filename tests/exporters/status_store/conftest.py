"""Fixtures of the status store tests: an empty store on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest


@pytest.fixture
def database(status_store_database: str) -> str:
    """A status store database URL (see tests/fixtures/status_store.py)."""
    return status_store_database
