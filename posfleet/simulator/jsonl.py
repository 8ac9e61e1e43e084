"""Append JSON Lines to a file from a worker thread, so the event loop never waits on disk."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import IO, Any


class JsonLinesFile:
    """A JSON Lines file opened for appending; :meth:`write` runs the I/O in a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] = path.open("a", encoding="utf-8")
        self.lines_written = 0

    def write_now(self, records: list[dict[str, Any]] | list[str]) -> None:
        """Write ``records`` (dicts, or lines already encoded as JSON) and flush."""
        if not records:
            return
        text = "".join(
            (record if isinstance(record, str) else json.dumps(record, separators=(",", ":")))
            + "\n"
            for record in records
        )
        self._file.write(text)
        self._file.flush()
        self.lines_written += len(records)

    async def write(self, records: list[dict[str, Any]] | list[str]) -> None:
        if records:
            await asyncio.to_thread(self.write_now, records)

    def close(self) -> None:
        self._file.close()
