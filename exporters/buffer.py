"""Store-and-forward buffer on disk: what an output cannot send now, it sends later, in order.

Records (opaque byte strings: a batch of line protocol, an MQTT message) are appended to
segment files; a cursor file remembers how far the output has confirmed delivery. The
buffer survives ``kill -9`` and restarts (appends go to the OS before ``append`` returns;
a torn record at the end of the newest segment is cut off on open), is bounded by
``max_bytes`` (the oldest segment is dropped at the cap, and the drop is counted and
logged), and a corrupt file is moved aside with a clear message instead of blocking
start-up. Delivery is at-least-once: after a crash a batch may be sent twice, which is
harmless because every point carries its own observation timestamp.

Why not a library: the candidates (persist-queue, diskcache) are SQLite queues without a
byte cap that drops the oldest data, and they replay far below the 50,000 points per
second an output needs after an hour-long outage; a segment log is ~250 lines.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_HEADER = struct.Struct("<2sII")  # magic, payload length, CRC-32 of the payload
_MAGIC = b"PF"
_SEGMENT_SUFFIX = ".seg"
_CURSOR_NAME = "cursor.json"
MAX_RECORD_BYTES = 64 * 1024 * 1024


class CorruptRecord(Exception):
    """A record whose header or checksum does not hold."""

    def __init__(self, message: str, *, truncated: bool = False) -> None:
        super().__init__(message)
        self.truncated = truncated
        """The file ends inside the record: a write cut short, not damage."""


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A place in the buffer: segment number, byte offset and records before it there."""

    segment: int
    offset: int
    records: int = 0


@dataclass(frozen=True, slots=True)
class Batch:
    """Records read from the buffer, and where the buffer stands once they are delivered."""

    records: list[bytes]
    end: Position


@dataclass(frozen=True, slots=True)
class BufferStats:
    pending_records: int
    pending_bytes: int
    dropped_records_total: int
    dropped_bytes_total: int
    corrupt_files_total: int


def _segment_name(number: int) -> str:
    return f"{number:016d}{_SEGMENT_SUFFIX}"


def _read_record(data: bytes, offset: int) -> tuple[bytes, int]:
    """The payload at ``offset`` of a segment's bytes and the offset after it."""
    end_of_header = offset + _HEADER.size
    if end_of_header > len(data):
        raise CorruptRecord(f"truncated header at byte {offset}", truncated=True)
    magic, length, checksum = _HEADER.unpack_from(data, offset)
    if magic != _MAGIC or length > MAX_RECORD_BYTES:
        raise CorruptRecord(f"bad record header at byte {offset}")
    end = end_of_header + length
    if end > len(data):
        raise CorruptRecord(f"truncated record at byte {offset}", truncated=True)
    payload = data[end_of_header:end]
    if zlib.crc32(payload) != checksum:
        raise CorruptRecord(f"checksum mismatch at byte {offset}")
    return payload, end


def _count_records(data: bytes, offset: int = 0) -> tuple[int, int, CorruptRecord | None]:
    """(records, offset after the last valid one, the problem that stopped the count)."""
    count = 0
    while offset < len(data):
        try:
            _, offset = _read_record(data, offset)
        except CorruptRecord as problem:
            return count, offset, problem
        count += 1
    return count, offset, None


class DiskBuffer:
    """A bounded, crash-safe FIFO of byte records in ``directory`` (one per output).

    Blocking file I/O: asyncio callers run it in a thread. One writer and one reader may
    use it from different threads.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int,
        segment_bytes: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes or max(64 * 1024, min(8 * 1024 * 1024, max_bytes // 8))
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[int, int] = {}  # segment -> records in it
        self._sizes: dict[int, int] = {}  # segment -> bytes
        self._dropped_records = 0
        self._dropped_bytes = 0
        self._corrupt_files = 0
        self.directory.mkdir(parents=True, exist_ok=True)
        self._recover()

    # --- start-up -------------------------------------------------------------------------

    def _segment_path(self, number: int) -> Path:
        return self.directory / _segment_name(number)

    def _move_aside(self, path: Path, why: str) -> None:
        target = path.with_name(f"{path.name}.corrupt-{int(self._clock())}")
        path.rename(target)
        self._corrupt_files += 1
        logger.error(
            "buffer %s: %s is corrupt (%s); moved aside to %s, delivery goes on without it",
            self.directory,
            path.name,
            why,
            target.name,
        )

    def _recover(self) -> None:
        numbers = sorted(
            int(path.stem)
            for path in self.directory.glob(f"*{_SEGMENT_SUFFIX}")
            if path.stem.isdigit()
        )
        for number in numbers:
            path = self._segment_path(number)
            data = path.read_bytes()
            count, valid_end, problem = _count_records(data)
            if problem is not None:
                if number == numbers[-1] and problem.truncated:
                    # A write cut short by a crash: drop the torn tail, keep the rest.
                    with path.open("r+b") as handle:
                        handle.truncate(valid_end)
                    logger.warning(
                        "buffer %s: cut %d bytes of an interrupted write from %s",
                        self.directory,
                        len(data) - valid_end,
                        path.name,
                    )
                else:
                    self._move_aside(path, str(problem))
                    continue
            self._records[number] = count
            self._sizes[number] = valid_end
        if not self._records:
            self._records[0] = 0
            self._sizes[0] = 0
            self._segment_path(0).touch()
        self._write_segment = max(self._records)
        self._cursor = self._load_cursor()

    def _load_cursor(self) -> Position:
        path = self.directory / _CURSOR_NAME
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            position = Position(int(raw["segment"]), int(raw["offset"]), int(raw["records"]))
        except FileNotFoundError:
            return Position(min(self._records), 0)
        except (ValueError, KeyError, TypeError, OSError) as exc:
            self._move_aside(path, f"unreadable cursor: {exc}; replaying from the oldest data")
            return Position(min(self._records), 0)
        if position.segment in self._records and position.offset <= self._sizes[position.segment]:
            return position
        # The cursor's segment is gone (consumed, dropped or moved aside): the oldest kept
        # segment after it is where delivery resumes.
        later = [number for number in self._records if number > position.segment]
        return Position(min(later), 0) if later else Position(self._write_segment, 0)

    # --- writing --------------------------------------------------------------------------

    def append(self, records: Sequence[bytes]) -> None:
        """Store records durably against a process crash (not against power loss)."""
        if not records:
            return
        frames = []
        for record in records:
            if len(record) > MAX_RECORD_BYTES:
                raise ValueError(f"record of {len(record)} bytes exceeds {MAX_RECORD_BYTES}")
            frames.append(_HEADER.pack(_MAGIC, len(record), zlib.crc32(record)) + record)
        data = b"".join(frames)
        with self._lock:
            if self._sizes[self._write_segment] + len(data) > self.segment_bytes and (
                self._sizes[self._write_segment] > 0
            ):
                self._write_segment += 1
                self._records[self._write_segment] = 0
                self._sizes[self._write_segment] = 0
            with self._segment_path(self._write_segment).open("ab") as handle:
                handle.write(data)
            self._records[self._write_segment] += len(records)
            self._sizes[self._write_segment] += len(data)
            self._enforce_cap()

    def _enforce_cap(self) -> None:
        while sum(self._sizes.values()) > self.max_bytes and len(self._sizes) > 1:
            oldest = min(self._sizes)
            path = self._segment_path(oldest)
            consumed = self._cursor if self._cursor.segment == oldest else Position(oldest, 0)
            dropped = self._records[oldest] - consumed.records
            dropped_bytes = self._sizes[oldest] - consumed.offset
            path.unlink(missing_ok=True)
            del self._sizes[oldest], self._records[oldest]
            self._dropped_records += dropped
            self._dropped_bytes += dropped_bytes
            if self._cursor.segment <= oldest:
                self._cursor = Position(min(self._sizes), 0)
                self._save_cursor()
            logger.warning(
                "buffer %s: full (%d bytes cap); dropped the oldest %d records (%d bytes)",
                self.directory,
                self.max_bytes,
                dropped,
                dropped_bytes,
            )

    # --- reading --------------------------------------------------------------------------

    def read(self, max_records: int) -> Batch:
        """Up to ``max_records`` undelivered records, oldest first (empty when caught up)."""
        with self._lock:
            records: list[bytes] = []
            position = self._cursor
            while len(records) < max_records:
                if position.segment not in self._sizes:
                    later = [s for s in self._sizes if s > position.segment]
                    if not later:
                        break
                    position = Position(min(later), 0)
                    continue
                if position.offset >= self._sizes[position.segment]:
                    if position.segment >= self._write_segment:
                        break
                    position = Position(position.segment + 1, 0)
                    continue
                position, records = self._read_segment(position, records, max_records)
            return Batch(records, position)

    def _read_segment(
        self, position: Position, records: list[bytes], max_records: int
    ) -> tuple[Position, list[bytes]]:
        path = self._segment_path(position.segment)
        with path.open("rb") as handle:
            handle.seek(position.offset)
            data = handle.read(self._sizes[position.segment] - position.offset)
        offset = 0
        read = 0
        try:
            while offset < len(data) and len(records) < max_records:
                payload, offset = _read_record(data, offset)
                records.append(payload)
                read += 1
        except CorruptRecord as exc:
            # Damaged after start-up (disk error, someone editing files): skip the segment.
            self._move_aside(path, str(exc))
            self._dropped_records += self._records[position.segment] - position.records - read
            del self._sizes[position.segment], self._records[position.segment]
            if position.segment == self._write_segment:
                self._write_segment += 1
                self._records[self._write_segment] = 0
                self._sizes[self._write_segment] = 0
            return Position(position.segment + 1, 0), records
        return Position(
            position.segment, position.offset + offset, position.records + read
        ), records

    def ack(self, batch: Batch) -> None:
        """Mark ``batch`` delivered: it is never read again, and its space is freed."""
        with self._lock:
            if batch.end <= self._cursor:
                return  # already past it (e.g. the segment was dropped at the cap meanwhile)
            self._cursor = batch.end
            for number in [n for n in self._sizes if n < batch.end.segment]:
                self._segment_path(number).unlink(missing_ok=True)
                del self._sizes[number], self._records[number]
            self._save_cursor()

    def _save_cursor(self) -> None:
        path = self.directory / _CURSOR_NAME
        temporary = path.with_suffix(".tmp")
        temporary.write_text(
            json.dumps(
                {
                    "segment": self._cursor.segment,
                    "offset": self._cursor.offset,
                    "records": self._cursor.records,
                }
            ),
            encoding="utf-8",
        )
        os.replace(temporary, path)

    # --- state ----------------------------------------------------------------------------

    def stats(self) -> BufferStats:
        with self._lock:
            cursor = self._cursor
            kept = [number for number in self._sizes if number >= cursor.segment]
            consumed_here = cursor if cursor.segment in self._sizes else Position(0, 0)
            return BufferStats(
                pending_records=sum(self._records[n] for n in kept) - consumed_here.records,
                pending_bytes=sum(self._sizes[n] for n in kept) - consumed_here.offset,
                dropped_records_total=self._dropped_records,
                dropped_bytes_total=self._dropped_bytes,
                corrupt_files_total=self._corrupt_files,
            )
