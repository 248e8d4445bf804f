"""The long-lived objects the API's requests share, built in the app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import status

from api.access.audit import LoginAudit, network_station
from api.access.sessions import Sessions
from api.access.throttle import LoginThrottle, ThrottlePolicy
from api.access.tokens import TokenIssuer
from api.access.users import UserStore
from api.access.users import connect as connect_staff_db
from api.commandbus import CommandBus
from api.dedup import RecentIds
from api.errors import api_error
from api.ingest import Ingestor, IngestPolicy
from api.keys import KeyStore
from api.live import LiveViews
from api.ratelimit import RateLimiter
from projections.warehouse import Warehouse
from sanjiang import metrics
from sanjiang.kafka.publisher import EventPublisher
from sanjiang.keyfile import load_or_create_key
from sanjiang.network import Network
from sanjiang.settings import Settings
from sanjiang.taxonomy import Taxonomy

log = logging.getLogger("sanjiang.api")


@dataclass
class Services:
    settings: Settings
    network: Network
    taxonomy: Taxonomy
    keys: KeyStore
    publisher: EventPublisher
    ingestor: Ingestor
    limiter: RateLimiter
    live: LiveViews
    users: UserStore
    throttle: LoginThrottle
    tokens: TokenIssuer
    sessions: Sessions
    analyst_slots: asyncio.Semaphore
    commands: CommandBus
    audit: LoginAudit
    warehouse: Warehouse | None = None
    streams: dict[str, int] = field(default_factory=dict)  #: open SSE streams per caller
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, network: Network, taxonomy: Taxonomy) -> Services:
        """Wire the services (nothing is started; see ``start``)."""
        publisher = EventPublisher(settings)
        policy = IngestPolicy.from_settings(settings, frozenset(network.by_id))
        staff_db = connect_staff_db(staff_db_path(settings))
        tokens = TokenIssuer(auth_key(settings))
        return cls(
            settings=settings,
            network=network,
            taxonomy=taxonomy,
            keys=KeyStore(key_store_path(settings)),
            publisher=publisher,
            ingestor=Ingestor(policy, publisher, RecentIds(settings.dedup_cache_size)),
            limiter=RateLimiter(settings.ingest_rate_per_key, settings.ingest_burst_per_key),
            live=LiveViews(settings),
            users=UserStore(staff_db),
            throttle=LoginThrottle(
                staff_db,
                ThrottlePolicy(
                    settings.login_failure_window_s,
                    settings.login_failures_per_account,
                    settings.login_failures_per_address,
                ),
            ),
            tokens=tokens,
            sessions=Sessions(tokens, settings.session_ttl_h * 3600),
            analyst_slots=asyncio.Semaphore(settings.analyst_max_concurrent),
            commands=CommandBus(settings),
            audit=LoginAudit(publisher, network_station(network)),
        )

    async def start(self) -> None:
        """Connect to Kafka; open (and migrate) the warehouse; host the sink over chDB."""
        await self.publisher.start()
        await self.commands.start()
        self.warehouse = await asyncio.to_thread(
            _open_warehouse, self.settings, self.network, self.taxonomy
        )
        if self.settings.clickhouse_url is None and self.settings.api_hosts_sink:
            # embedded: this process owns chDB, so it runs the sink
            from projections.ops_sink import OpsSink
            from projections.sink import WarehouseSink, backlog_sampler

            sink = WarehouseSink(self.settings, self.warehouse, report=log.info)
            self._tasks.append(asyncio.create_task(sink.run(self._stop)))
            ops = OpsSink(self.settings, self.warehouse, report=log.info)
            self._tasks.append(asyncio.create_task(ops.run(self._stop)))
            metrics.expose("sink")  # on this process's /metrics
            backlog = backlog_sampler(self.settings, sink.group_id, sink.topics.events)
            self._tasks.append(asyncio.create_task(backlog.follow(self._stop)))
        self._tasks.append(asyncio.create_task(self.live.run(self._stop)))
        logs = self.settings.var_dir / "logs"
        self._tasks.append(asyncio.create_task(self.live.follow_processes(logs, self._stop)))

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await task
        await self.audit.drain()
        await self.publisher.stop()
        await self.commands.stop()
        if self.warehouse is not None:
            self.warehouse.close()
        self.keys.close()
        self.users.close()

    def require_warehouse(self) -> Warehouse:
        if self.warehouse is None:
            raise api_error(
                status.HTTP_503_SERVICE_UNAVAILABLE, "warehouse_unavailable", "not open"
            )
        return self.warehouse


def _open_warehouse(settings: Settings, network: Network, taxonomy: Taxonomy) -> Warehouse:
    from projections.migrate import load_reference, migrate
    from projections.warehouse import open_warehouse

    warehouse = open_warehouse(settings)
    migrate(warehouse)
    load_reference(warehouse, network, taxonomy)
    return warehouse


def key_store_path(settings: Settings) -> Path:
    """Where device keys live (shared by the API and ``sanjiang kiosk``)."""
    return settings.secrets_dir / "api_keys.db"


def staff_db_path(settings: Settings) -> Path:
    """Where staff accounts and failed logins live (shared by the API and ``sanjiang user``)."""
    return settings.secrets_dir / "staff.db"


def auth_key(settings: Settings) -> bytes:
    """The key that signs staff tokens and sessions."""
    if settings.auth_key is not None:
        return bytes.fromhex(settings.auth_key.get_secret_value().strip())
    return load_or_create_key(settings.secrets_dir / "auth.key")
