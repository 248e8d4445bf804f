"""Through a real worker: the known sequence shuffled (all within the grace period) and with
re-delivered duplicates gives exactly the numbers of the ordered run."""

from __future__ import annotations

import asyncio
import random

import pytest
from fastapi.testclient import TestClient

from sanjiang.kafka.publisher import EventPublisher
from sanjiang.kafka.topics import Topics
from sanjiang.settings import Settings
from tests.integration.test_live import (
    APPLIED,
    EXPECTED,
    known_sequence,
    live_api,
    start_worker,
    wait_for,
)

pytestmark = pytest.mark.integration
__all__ = ["live_api"]  # the fixture, shared with test_live


def test_shuffled_and_duplicated_sequence_gives_the_same_numbers(
    live_api: tuple[TestClient, Settings], topics: Topics
) -> None:
    client, settings = live_api
    events = known_sequence()
    events += random.Random(4).sample(events, 5)  # more re-deliveries
    random.Random(11).shuffle(events)

    async def publish() -> None:
        async with EventPublisher(settings, topics) as publisher:
            for event in events:  # one by one, so the log keeps the shuffled order
                await publisher.publish_many([event])

    asyncio.run(publish())
    worker = start_worker(settings)
    try:
        station = wait_for(client, "/v1/live/stations/WS-R03", EXPECTED)
        assert station["satisfaction"] == pytest.approx(0.5)
        assert wait_for(client, "/v1/live/venues", {})["occupancy"] == {"WS-R03-ACT": 6}
        pipeline = wait_for(client, "/v1/live/pipeline", {"applied": APPLIED})
        assert pipeline["too_late"] == 0
    finally:
        worker.kill()
        worker.wait()
