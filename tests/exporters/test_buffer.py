"""The store-and-forward buffer keeps every record through restarts, crashes and damage."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from posfleet.exporters.buffer import DiskBuffer


def records(start: int, count: int, size: int = 100) -> list[bytes]:
    return [f"{i:08d}".encode().ljust(size, b".") for i in range(start, start + count)]


def drain(buffer: DiskBuffer, batch: int = 37) -> list[bytes]:
    delivered: list[bytes] = []
    while True:
        got = buffer.read(batch)
        if not got.records:
            return delivered
        delivered += got.records
        buffer.ack(got)


def test_records_come_back_in_order_across_segments(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path, max_bytes=10_000_000, segment_bytes=4096)
    for start in range(0, 1000, 100):
        buffer.append(records(start, 100))
    assert buffer.stats().pending_records == 1000
    assert drain(buffer) == records(0, 1000)
    stats = buffer.stats()
    assert (stats.pending_records, stats.pending_bytes) == (0, 0)
    assert len(list(tmp_path.glob("*.seg"))) == 1, "delivered segments are deleted"


def test_unacknowledged_records_are_read_again(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path, max_bytes=1_000_000)
    buffer.append(records(0, 5))
    first = buffer.read(3)
    assert buffer.read(3).records == first.records, "nothing delivered until acked"
    buffer.ack(first)
    assert buffer.read(10).records == records(3, 2)


def test_restart_resumes_after_the_last_acknowledged_record(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path, max_bytes=1_000_000, segment_bytes=2048)
    buffer.append(records(0, 100))
    buffer.ack(buffer.read(40))
    reopened = DiskBuffer(tmp_path, max_bytes=1_000_000, segment_bytes=2048)
    assert reopened.stats().pending_records == 60
    assert drain(reopened) == records(40, 60)


def test_kill_9_loses_nothing_that_append_returned(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from posfleet.exporters.buffer import DiskBuffer
        buffer = DiskBuffer({str(tmp_path)!r}, max_bytes=50_000_000, segment_bytes=65536)
        for start in range(0, 5000, 250):
            batch = range(start, start + 250)
            buffer.append([f"{{i:08d}}".encode().ljust(100, b".") for i in batch])
            if start == 2500:
                buffer.ack(buffer.read(1000))
        sys.stdout.write("appended\\n"); sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert result.stdout == "appended\n"
    reopened = DiskBuffer(tmp_path, max_bytes=50_000_000, segment_bytes=65536)
    assert drain(reopened) == records(1000, 4000)


def test_a_torn_write_at_the_end_is_cut_off_and_the_rest_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    buffer = DiskBuffer(tmp_path, max_bytes=1_000_000)
    buffer.append(records(0, 10))
    segment = next(tmp_path.glob("*.seg"))
    with segment.open("ab") as handle:
        handle.write(b"PF\xff\x00\x00\x00half a rec")  # a crash in the middle of a write
    with caplog.at_level(logging.WARNING):
        reopened = DiskBuffer(tmp_path, max_bytes=1_000_000)
    assert "interrupted write" in caplog.text
    reopened.append(records(10, 1))
    assert drain(reopened) == records(0, 11)


def test_a_corrupt_segment_is_moved_aside_and_start_up_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    buffer = DiskBuffer(tmp_path, max_bytes=1_000_000, segment_bytes=1024)
    for start in range(30):
        buffer.append(records(start, 1))
    oldest = sorted(tmp_path.glob("*.seg"))[0]
    damaged = bytearray(oldest.read_bytes())
    damaged[20] ^= 0xFF
    oldest.write_bytes(bytes(damaged))
    with caplog.at_level(logging.ERROR):
        reopened = DiskBuffer(tmp_path, max_bytes=1_000_000, segment_bytes=1024)
    assert f"{oldest.name} is corrupt" in caplog.text
    assert list(tmp_path.glob(f"{oldest.name}.corrupt-*")), "kept for inspection"
    assert reopened.stats().corrupt_files_total == 1
    remaining = drain(reopened)
    assert remaining, "the undamaged segments are still delivered"
    assert remaining == records(30 - len(remaining), len(remaining))


def test_damage_in_the_newest_segment_is_moved_aside_not_cut_off(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path, max_bytes=1_000_000)
    buffer.append(records(0, 10))
    segment = next(tmp_path.glob("*.seg"))
    damaged = bytearray(segment.read_bytes())
    damaged[300] ^= 0xFF
    segment.write_bytes(bytes(damaged))
    reopened = DiskBuffer(tmp_path, max_bytes=1_000_000)
    assert reopened.stats().corrupt_files_total == 1
    assert list(tmp_path.glob("*.corrupt-*"))
    reopened.append(records(10, 1))
    assert drain(reopened) == records(10, 1)


def test_an_unreadable_cursor_replays_from_the_oldest_record(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path, max_bytes=1_000_000)
    buffer.append(records(0, 10))
    buffer.ack(buffer.read(4))
    (tmp_path / "cursor.json").write_text("{not json")
    reopened = DiskBuffer(tmp_path, max_bytes=1_000_000)
    assert drain(reopened) == records(0, 10), "duplicates are harmless, losses are not"


def test_at_the_cap_the_oldest_records_are_dropped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    buffer = DiskBuffer(tmp_path, max_bytes=20_000, segment_bytes=4_000)
    with caplog.at_level(logging.WARNING):
        for start in range(0, 1000, 10):
            buffer.append(records(start, 10))
    stats = buffer.stats()
    on_disk = sum(path.stat().st_size for path in tmp_path.glob("*.seg"))
    assert on_disk <= 20_000
    assert stats.dropped_records_total > 0
    assert "dropped the oldest" in caplog.text
    kept = drain(buffer)
    assert len(kept) + stats.dropped_records_total == 1000
    assert kept == records(1000 - len(kept), len(kept)), "the newest data is what is kept"


def test_buffer_directory_is_created(tmp_path: Path) -> None:
    DiskBuffer(tmp_path / "a" / "b", max_bytes=1_000_000).append([b"x"])
    assert (tmp_path / "a" / "b").is_dir()
    assert os.listdir(tmp_path / "a" / "b")
