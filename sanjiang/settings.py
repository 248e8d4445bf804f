"""The one settings object: built once at the edge (CLI, app factory) and passed in.

Every field reads the environment variable ``SANJIANG_<FIELD>``; nothing else in the code
reads the environment. Bad values fail fast with :class:`ConfigError` naming the variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "SANJIANG_"

Port = Annotated[int, Field(ge=1, le=65535)]


class ConfigError(ValueError):
    """Configuration that cannot work; the message names the environment variables at fault."""


class Settings(BaseSettings):
    """Sanjiang configuration (environment variables with the ``SANJIANG_`` prefix)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    var_dir: Path = Field(
        default=Path("var"), description="Where local state lives: Kafka data, logs, warehouse."
    )
    kafka_bootstrap: str | None = Field(
        default=None,
        description="host:port[,…] of an existing Kafka cluster; unset = run the local one.",
    )
    kafka_port: Port = Field(default=9092, description="Local broker's client port.")
    kafka_controller_port: Port = Field(default=9093, description="Local KRaft controller port.")
    kafka_heap: str = Field(
        default="512m", pattern=r"^\d+[mg]$", description="Java heap of the local broker."
    )
    kafka_start_timeout_s: float = Field(
        default=60.0, gt=0, description="How long `kafka start` waits for the broker to answer."
    )
    topic_prefix: str = Field(
        default="sanjiang",
        pattern=r"^[a-z][a-z0-9_-]{0,40}$",
        description="Prefix of every topic name (lets several deployments share a cluster).",
    )
    event_partitions: int = Field(
        default=6, ge=1, le=1024, description="Partitions of the event topic (keyed by station)."
    )

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap_is_host_port(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        for server in value.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port], got {value!r}")
        return value

    @property
    def kafka_external(self) -> bool:
        """True when an existing cluster is configured and the local broker must not be run."""
        return self.kafka_bootstrap is not None

    @property
    def bootstrap_servers(self) -> str:
        """The bootstrap servers clients connect to."""
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"


def env_name(field: str) -> str:
    """The environment variable behind a settings field."""
    return f"{ENV_PREFIX}{field.upper()}"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment (plus explicit overrides), or raise ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "?"
            lines.append(f"{env_name(field)}: {error['msg']} (got {error.get('input')!r})")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
