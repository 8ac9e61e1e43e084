"""Where snapshots and transaction events go: the interface outputs implement, plus two
simple outputs (memory, for tests; JSON lines, for debugging with ``posfleet collect --print``).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TextIO

from posfleet.telemetry import StatusSnapshot, TransactionEvent

logger = logging.getLogger(__name__)


class Sink(Protocol):
    """An output. ``publish`` should return quickly: buffer, don't block the collector."""

    async def publish(self, snapshot: StatusSnapshot) -> None: ...

    async def publish_transaction(self, event: TransactionEvent) -> None: ...

    async def close(self) -> None: ...


class FanOut:
    """Sends everything to every sink; a failing sink is logged and never stops the others."""

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self._sinks = tuple(sinks)

    async def _each(self, action: str, call: Callable[[Sink], Awaitable[None]]) -> None:
        for sink in self._sinks:
            try:
                await call(sink)
            except Exception:
                logger.exception("%s: %s failed", type(sink).__name__, action)

    async def publish(self, snapshot: StatusSnapshot) -> None:
        await self._each("publish", lambda sink: sink.publish(snapshot))

    async def publish_transaction(self, event: TransactionEvent) -> None:
        await self._each("publish_transaction", lambda sink: sink.publish_transaction(event))

    async def close(self) -> None:
        await self._each("close", lambda sink: sink.close())


class MemorySink:
    """Keeps everything in lists; for tests."""

    def __init__(self) -> None:
        self.snapshots: list[StatusSnapshot] = []
        self.transactions: list[TransactionEvent] = []
        self.closed = False

    async def publish(self, snapshot: StatusSnapshot) -> None:
        self.snapshots.append(snapshot)

    async def publish_transaction(self, event: TransactionEvent) -> None:
        self.transactions.append(event)

    async def close(self) -> None:
        self.closed = True


class JsonLinesSink:
    """One JSON object per line: ``{"status": {...}}`` or ``{"transaction": {...}}``.

    Lines are collected on the event loop and written in batches by a thread, so a slow
    terminal or pipe never blocks polling.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self._pending: list[str] = []
        self._writer: asyncio.Task[None] | None = None

    def _queue(self, line: str) -> None:
        self._pending.append(line)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            await asyncio.to_thread(self._write, batch)

    def _write(self, batch: list[str]) -> None:
        self._stream.write("".join(batch))
        self._stream.flush()

    async def publish(self, snapshot: StatusSnapshot) -> None:
        self._queue('{"status":' + snapshot.model_dump_json(exclude_none=True) + "}\n")

    async def publish_transaction(self, event: TransactionEvent) -> None:
        self._queue('{"transaction":' + event.model_dump_json(exclude_none=True) + "}\n")

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer
        await self._drain()
