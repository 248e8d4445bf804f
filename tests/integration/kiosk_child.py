"""A kiosk process for crash tests: emits events into its outbox while delivering to Kafka.

    python -m tests.integration.kiosk_child OUTBOX BOOTSTRAP PREFIX EMIT

Emits EMIT check-ins (one every millisecond or so), delivering concurrently in small batches,
then drains the outbox and exits 0. With EMIT = 0 it only delivers what the outbox holds.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from producers.delivery import Deliverer
from producers.kiosk import Kiosk
from producers.outbox import Outbox
from producers.transport import KafkaTransport
from sanjiang.pseudonym import Pseudonymizer
from sanjiang.settings import load_settings


async def main(outbox_path: Path, bootstrap: str, prefix: str, emit: int) -> None:
    settings = load_settings(kafka_bootstrap=bootstrap, topic_prefix=prefix)
    outbox = Outbox(outbox_path)
    kiosk = Kiosk(
        station_id="WS-R05",
        kiosk_id="WS-R05-K1",
        outbox=outbox,
        pseudonymize=Pseudonymizer(b"k" * 32),
    )
    deliverer = Deliverer(outbox, KafkaTransport(settings), batch_size=50, idle_s=0.01)
    stop = asyncio.Event()
    delivering = asyncio.create_task(deliverer.run(stop))
    for i in range(emit):
        kiosk.check_in(f"resident-{i % 400}", "WS-R05-ROOM1", age_band="60-69")
        if i % 20 == 0:
            await asyncio.sleep(0.001)
    while outbox.counts().pending:
        await asyncio.sleep(0.05)
    stop.set()
    await delivering
    print("drained", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])))
