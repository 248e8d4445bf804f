"""The long-lived objects the API's requests share, built in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from api.dedup import RecentIds
from api.ingest import Ingestor, IngestPolicy
from api.keys import KeyStore
from api.ratelimit import RateLimiter
from sanjiang.kafka.publisher import EventPublisher
from sanjiang.network import Network
from sanjiang.settings import Settings


@dataclass
class Services:
    settings: Settings
    network: Network
    keys: KeyStore
    publisher: EventPublisher
    ingestor: Ingestor
    limiter: RateLimiter

    @classmethod
    def build(cls, settings: Settings, network: Network) -> Services:
        """Wire the services (nothing is started; see ``start``)."""
        publisher = EventPublisher(settings)
        policy = IngestPolicy.from_settings(settings, frozenset(network.by_id))
        return cls(
            settings=settings,
            network=network,
            keys=KeyStore(key_store_path(settings)),
            publisher=publisher,
            ingestor=Ingestor(policy, publisher, RecentIds(settings.dedup_cache_size)),
            limiter=RateLimiter(settings.ingest_rate_per_key, settings.ingest_burst_per_key),
        )

    async def start(self) -> None:
        await self.publisher.start()

    async def stop(self) -> None:
        await self.publisher.stop()
        self.keys.close()


def key_store_path(settings: Settings) -> Path:
    """Where device keys live (shared by the API and ``sanjiang kiosk``)."""
    return settings.secrets_dir / "api_keys.db"
