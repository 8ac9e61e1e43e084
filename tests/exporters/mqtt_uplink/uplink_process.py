"""A collector stand-in for the kill -9 and Last Will tests: an uplink sink in its own
process. Publishes ``--count`` snapshots, prints ``buffered``, then keeps delivering (and
prints ``delivered`` once the buffer is empty) until it is killed.

    python uplink_process.py URL BUFFER_DIR COLLECTOR_ID COUNT
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from posfleet.config.models import UplinkSettings
from posfleet.exporters.buffer import DiskBuffer
from posfleet.exporters.mqtt_uplink.sink import MqttUplinkSink
from tests.exporters.mqtt_uplink.helpers import status


async def main(url: str, directory: str, collector_id: str, count: int) -> None:
    settings = UplinkSettings(url=url, publish_timeout_seconds=2.0)
    buffer = DiskBuffer(Path(directory), max_bytes=16 * 1024 * 1024)
    sink = MqttUplinkSink(settings, collector_id, buffer, reconnect_max_seconds=1.0)
    await sink.start()
    for seq in range(count):
        await sink.publish(status("T-1", seq))
    print("buffered", flush=True)
    while sink.stats.buffer is None or sink.stats.buffer.pending_records:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    print("delivered", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
