"""The life cycle shared by the outputs that write through their own disk buffer.

An output keeps what it is given in memory for a while, moves it to a
:class:`~posfleet.exporters.buffer.DiskBuffer` now and then (a *flush*), and a forwarding
task takes records out of the buffer and acks them once they are delivered. What a record
holds and how it is delivered differ per output; starting, flushing, waking the forwarder
and stopping do not, and live here so that every buffered output behaves the same:

- the buffer is opened in a thread, because opening reads the cursor and scans the newest
  segment: blocking I/O that must not stall the event loop. The first ``start``, ``flush``
  or publish opens it; what an earlier run left in it is forwarded first.
- flushes are serialised by one lock, so records reach the buffer in the order they were
  taken from memory, and each append wakes the forwarder.
- the forwarder says when it has found the buffer empty (*idle*); ``close`` flushes and
  waits for that, bounded, so a clean shutdown leaves behind only what could not be sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from posfleet.exporters.buffer import BufferStats, DiskBuffer


class BufferedOutput:
    """Opens, flushes, forwards from and closes one output's disk buffer.

    The output supplies its steps: ``write_pending`` takes what is in memory and appends it
    with :meth:`append` (called under the flush lock); ``flush_due`` returns when the next
    flush is due; ``forward`` runs for the life of the output, sending what the buffer holds
    and calling :meth:`idle_until_appended` when it finds the buffer empty; ``release``
    frees what the output holds besides the buffer, after the tasks stop. ``on_open`` runs in
    the opening thread after the buffer is open, for the output's own blocking set-up.
    """

    def __init__(
        self,
        name: str,
        directory: Path,
        *,
        max_bytes: int,
        close_timeout_seconds: float,
        log: logging.Logger,
        label: str,
        write_pending: Callable[[], Awaitable[None]],
        flush_due: Callable[[], Awaitable[None]],
        forward: Callable[[DiskBuffer], Awaitable[None]],
        release: Callable[[], Awaitable[None]],
        on_open: Callable[[DiskBuffer], None] | None = None,
        forward_task: str = "send",
        flush_error_pause_seconds: float = 0.0,
    ) -> None:
        self.buffer: DiskBuffer | None = None
        """The disk buffer, None until it is open."""
        self._name = name
        self._directory = directory
        self._max_bytes = max_bytes
        self._close_timeout = close_timeout_seconds
        self._log = log
        self._label = label
        self._write_pending = write_pending
        self._flush_due = flush_due
        self._forward = forward
        self._release = release
        self._on_open = on_open
        self._forward_task = forward_task
        self._flush_error_pause = flush_error_pause_seconds
        self._opening: asyncio.Task[DiskBuffer] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._append_lock = asyncio.Lock()
        self._data_available = asyncio.Event()
        self._idle = asyncio.Event()

    # --- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the buffer (raising if it cannot be opened) and start the tasks."""
        self.ensure_started()
        await self.opened()

    def ensure_started(self) -> None:
        """Start opening the buffer and the tasks, once; for callers that cannot wait."""
        if self._opening is not None:
            return
        self._opening = asyncio.create_task(asyncio.to_thread(self._open))
        self._tasks = [
            asyncio.create_task(self._flush_loop(), name=f"{self._name}-flush"),
            asyncio.create_task(self._forward_loop(), name=f"{self._name}-{self._forward_task}"),
        ]

    def _open(self) -> DiskBuffer:
        buffer = DiskBuffer(self._directory, max_bytes=self._max_bytes)
        self.buffer = buffer
        if self._on_open is not None:
            self._on_open(buffer)
        return buffer

    async def opened(self) -> DiskBuffer:
        """The buffer once open; raises what opening raised."""
        assert self._opening is not None
        return await self._opening

    async def flush(self) -> None:
        """Move what the output holds in memory to the disk buffer now."""
        self.ensure_started()
        await self._write()

    async def close(self) -> None:
        """Flush, give the forwarder the close timeout to empty the buffer, stop, release.

        Whatever is still buffered then is forwarded by the next run.
        """
        if self._opening is None:
            return
        try:
            await self._write()
            await asyncio.wait_for(self._idle.wait(), timeout=self._close_timeout)
        except TimeoutError:
            stats = self.stats()
            self._log.warning(
                "%s closing with %d batches still buffered; the next start sends them",
                self._label,
                stats.pending_records if stats else 0,
            )
        except Exception:
            self._log.exception("%s: error while closing", self._label)
        finally:
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._release()

    # --- for the output's steps ------------------------------------------------------------

    async def append(self, records: Sequence[bytes]) -> None:
        """Append to the buffer in a thread, then wake the forwarder."""
        buffer = await self.opened()
        await asyncio.to_thread(buffer.append, records)
        self._idle.clear()
        self._data_available.set()

    def watch_for_appends(self) -> None:
        """Call before the forwarder's last look at an empty-seeming buffer.

        An append after this call wakes :meth:`idle_until_appended`; clearing the flag after
        that look instead could swallow an append made in between and stall the forwarder.
        """
        self._data_available.clear()

    async def idle_until_appended(self) -> None:
        """Report the buffer empty (what ``close`` waits for), then wait for an append."""
        self._idle.set()
        await self._data_available.wait()

    async def wait_idle(self) -> None:
        """Wait until the forwarder has found the buffer empty (wrap in a timeout)."""
        await self._idle.wait()

    def stats(self) -> BufferStats | None:
        """The disk buffer's counts, or None before it is open."""
        return self.buffer.stats() if self.buffer is not None else None

    # --- tasks -----------------------------------------------------------------------------

    async def _write(self) -> None:
        assert self._opening is not None
        async with self._append_lock:
            await self._write_pending()

    async def _flush_loop(self) -> None:
        while True:
            await self._flush_due()
            try:
                await self._write()
            except asyncio.CancelledError:
                raise
            except Exception:
                self._log.exception("%s: writing to the disk buffer failed", self._label)
                if self._flush_error_pause:
                    await asyncio.sleep(self._flush_error_pause)

    async def _forward_loop(self) -> None:
        await self._forward(await self.opened())
