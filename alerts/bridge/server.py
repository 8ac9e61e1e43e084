"""Serving the bridge's HTTP app with uvicorn until SIGTERM or Ctrl-C, exiting cleanly.

uvicorn's own signal handling re-raises SIGTERM once it has shut down, so the process
would end with status -15 even after a clean stop; here the signals only ask the server to
exit, and the command returns normally (status 0).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from posfleet.cli.signals import stop_on_signals


class _Server(uvicorn.Server):
    """A uvicorn server that leaves the signals to :func:`serve`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(app: FastAPI, host: str, port: int) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then shut down cleanly (lifespan: outbox and
    database closed). A second signal stops waiting for requests still open."""
    server = _Server(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False))
    async with stop_on_signals() as stop:
        serving = asyncio.create_task(server.serve())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
        if not serving.done():
            server.should_exit = True
            stop.clear()
            stopping.cancel()
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
            server.force_exit = True
        stopping.cancel()
        await serving
