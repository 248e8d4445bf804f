"""The one settings object: built once at the edge (CLI, app factory) and passed in.

Every field reads the environment variable ``SANJIANG_<FIELD>``; nothing else in the code
reads the environment. Bad values fail fast with :class:`ConfigError` naming the variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
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
    network_file: Path | None = Field(
        default=None,
        description="The network's reference data (stations, venues, opening hours, booking "
        "rules) as YAML; default: the packaged sample network of Wusong.",
    )
    kafka_bootstrap: str | None = Field(
        default=None,
        description="host:port[,…] of an existing Kafka cluster; unset = run the local one.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="How clients reach the cluster: PLAINTEXT (the local broker, 127.0.0.1 "
        "only), SASL_PLAINTEXT or SASL_SSL (a cluster that authenticates its clients).",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism with SASL_* protocols."
    )
    kafka_username: str | None = Field(
        default=None, description="This process's Kafka user (SASL); each process has its own."
    )
    kafka_password: SecretStr | None = Field(default=None, description="That user's password.")
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

    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="Hex secret for resident pseudonyms (>= 32 hex digits); unset = "
        "a random key created once in <var_dir>/secrets/pseudonym.key.",
    )
    signing_key: SecretStr | None = Field(
        default=None,
        description="Hex secret (>= 32 hex digits) with which the platform signs the events it "
        "validated before publishing them, so the warehouse sink can skip re-validating them; "
        "unset = a random key created once in <var_dir>/secrets/signing.key. Every process of a "
        "deployment must use the same key (set it when they do not share var_dir).",
    )
    auth_key: SecretStr | None = Field(
        default=None,
        description="Hex secret (>= 64 hex digits) that signs staff tokens and sessions; unset = "
        "a random key created once in <var_dir>/secrets/auth.key. Every API process of a "
        "deployment needs the same key.",
    )
    token_ttl_s: float = Field(
        default=900.0, ge=60, le=86_400, description="Life of a staff access token (OAuth2)."
    )
    session_ttl_h: float = Field(
        default=12.0,
        gt=0,
        le=24 * 30,
        description="Life of a page session; one in use is renewed past half of it.",
    )
    login_failures_per_account: int = Field(
        default=5, ge=1, description="Failed logins of one account in the window before 429."
    )
    login_failures_per_address: int = Field(
        default=20, ge=1, description="Failed logins from one client address in the window."
    )
    login_failure_window_s: float = Field(
        default=900.0, gt=0, description="The window failed logins are counted over."
    )
    cors_origins: str = Field(
        default="",
        description="Comma-separated origins allowed to call the API from a browser (CORS); "
        "empty = no CORS, pages are served by the API itself.",
    )
    max_period_days: int = Field(
        default=400, ge=1, le=3660, description="Longest period a KPI or history request covers."
    )
    max_hourly_days: int = Field(
        default=62, ge=1, le=400, description="Longest period of an hourly time series."
    )
    reconcile_max_days: int = Field(
        default=31, ge=1, le=400, description="Most days one reconciliation compares."
    )
    deadletter_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="How long dead letters are kept (the topic and the warehouse's copy).",
    )
    api_token: SecretStr | None = Field(
        default=None,
        description="CLI: the credential (staff token or device key) commands use with a running "
        "platform's API (kpi, reconcile, dashboards check while `sanjiang up` runs).",
    )
    api_user: str | None = Field(
        default=None, description="CLI: the staff account those commands log in as."
    )
    api_password: SecretStr | None = Field(
        default=None, description="CLI: its password (asked for on a terminal when unset)."
    )
    api_host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    api_port: Port = Field(default=8000, description="Port the API listens on.")
    ingest_max_body_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="Largest request body ingest reads (413 past it).",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body of every route but the ingest (413 past it).",
    )
    ingest_max_batch: int = Field(
        default=20_000, ge=1, description="Most events in one ingest request (413 past it)."
    )
    ingest_rate_per_key: float = Field(
        default=1000.0, gt=0, description="Sustained events/s one kiosk key may send (429 past it)."
    )
    ingest_burst_per_key: int = Field(
        default=50_000, ge=1, description="Events a key may send at once (an outbox catching up)."
    )
    clock_skew_s: float = Field(
        default=120.0, ge=0, description="How far in the future occurred_at may be (device clocks)."
    )
    late_after_s: float = Field(
        default=300.0, gt=0, description="Events received later than this after occurring are late."
    )
    late_window_h: float = Field(
        default=168.0, gt=0, description="Events older than this are refused (late-upload window)."
    )
    dedup_cache_size: int = Field(
        default=2_000_000, ge=1000, description="Recent event ids the ingest remembers for dedup."
    )

    warehouse_path: Path | None = Field(
        default=None,
        description="Data folder of the embedded ClickHouse (chDB; one owning process); "
        "unset = <var_dir>/warehouse.",
    )
    clickhouse_url: str | None = Field(
        default=None,
        description="http(s)://user:password@host:port of a ClickHouse server; unset = chDB.",
    )
    clickhouse_analyst_url: SecretStr | None = Field(
        default=None,
        description="http(s)://user:password@host:port of the read-only ClickHouse user that runs "
        "analyst SQL on a server (its profile holds readonly = 1 and the limits); unset = "
        "analyst SQL is refused on a server. Not used with chDB.",
    )
    clickhouse_database: str = Field(
        default="sanjiang", pattern=r"^[a-z_][a-z0-9_]{0,40}$", description="Warehouse database."
    )
    sink_batch_rows: int = Field(
        # above what a second brings at full speed (~35-40k events/s into chDB here), so under
        # load a batch closes on time: about one insert a second. The sink holds two batches.
        default=50_000,
        ge=1,
        description="The warehouse sink inserts at most this many rows at once.",
    )
    sink_batch_seconds: float = Field(
        default=1.0, gt=0, description="…and at least this often while events arrive."
    )

    api_hosts_sink: bool = Field(
        default=True,
        description="With embedded chDB, run the warehouse sink inside the API process "
        "(it owns the data folder); false when the sink runs elsewhere.",
    )
    sse_per_caller: int = Field(
        default=10, ge=1, description="Live streams (SSE) one credential may hold open at once."
    )
    sse_total: int = Field(
        default=500, ge=1, description="Live streams (SSE) the API holds open at once."
    )
    live_grace_h: float = Field(
        default=6.0, ge=0, description="How long after its day ends a window takes late events."
    )
    live_days_kept: int = Field(
        default=35,
        ge=8,
        description="Closed days whose counters the live worker keeps (the demand-surge alert "
        "compares with the last 7); older ones are forgotten, the warehouse keeps them.",
    )
    kiosk_offline_after_s: float = Field(
        default=900.0, gt=0, description="A kiosk silent this long is offline."
    )
    live_checkpoint_s: float = Field(
        default=10.0,
        gt=0,
        description="How often the stream worker checkpoints its state (if it changed); a "
        "restarted worker re-reads at most this much of the log.",
    )
    analyst_max_rows: int = Field(
        default=100_000, ge=1, description="Rows an analyst query may return."
    )
    analyst_max_seconds: float = Field(
        default=10.0, gt=0, description="Time an analyst query may run."
    )
    analyst_max_memory_bytes: int = Field(
        default=1_000_000_000, ge=10_000_000, description="Memory an analyst query may use."
    )
    analyst_max_result_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="Bytes an analyst query may return."
    )
    analyst_max_concurrent: int = Field(
        default=2, ge=1, le=64, description="Analyst queries the API runs at once (429 past it)."
    )
    faust_log_level: Literal["DEBUG", "INFO", "WARN", "ERROR"] = Field(
        default="WARN", description="Log level of the Faust workers (streams, deciders)."
    )
    command_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="How long a command waits for its decision (then 504; ask again with the "
        "same command_id for the decision made).",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the workers' metrics endpoints listen on (stream worker, deciders, "
        "the sink run alone); 0.0.0.0 where a Prometheus on another host scrapes them.",
    )
    streams_metrics_port: int = Field(
        default=9471, ge=0, le=65535, description="The stream worker's metrics port; 0 = off."
    )
    deciders_metrics_port: int = Field(
        default=9472,
        ge=0,
        le=65535,
        description="The deciders' metrics port; 0 = off (one per process on one host).",
    )
    sink_metrics_port: int = Field(
        default=9473,
        ge=0,
        le=65535,
        description="The metrics port of the warehouse sink run alone (`sanjiang sink`); 0 = "
        "off. Hosted by the API, the sink's metrics are on the API's /metrics.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="A bearer token that may read the API's /metrics (Prometheus's scrape "
        "credential), besides staff and keys that see the whole network; unset = those only.",
    )
    grafana_url: str | None = Field(
        default=None,
        description="http(s)://[user:password@]host:port of the Grafana that "
        "`sanjiang dashboards push` provisions.",
    )
    grafana_token: SecretStr | None = Field(
        default=None, description="Grafana service-account token (instead of user:password)."
    )
    grafana_clickhouse_host: str = Field(
        default="clickhouse", description="ClickHouse host as Grafana reaches it (datasource)."
    )
    grafana_clickhouse_port: Port = Field(
        default=9000, description="ClickHouse port for Grafana (9000 native, 8123 HTTP)."
    )
    grafana_clickhouse_protocol: Literal["native", "http"] = Field(
        default="native", description="How Grafana talks to ClickHouse."
    )
    grafana_clickhouse_user: str = Field(
        default="grafana_ro", description="The read-only ClickHouse user Grafana queries as."
    )
    grafana_clickhouse_password: SecretStr | None = Field(
        default=None, description="That user's password (kept in Grafana's secure fields)."
    )
    grafana_prometheus_url: str = Field(
        default="http://prometheus:9090",
        pattern=r"^https?://",
        description="Prometheus as Grafana reaches it (the operations dashboard's metrics).",
    )

    @field_validator("clickhouse_url", "grafana_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected http(s)://[user:password@]host:port")
        return value

    @field_validator("clickhouse_analyst_url")
    @classmethod
    def _secret_http_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not value.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("expected http(s)://user:password@host:port")
        return value

    @field_validator("auth_key")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        try:
            key = bytes.fromhex(value.get_secret_value().strip())
        except ValueError:
            raise ValueError("must be hex digits (e.g. `openssl rand -hex 32`)") from None
        if len(key) < 32 or len(set(key)) < 8:
            raise ValueError("must be a random key of at least 64 hex digits")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if len(value.get_secret_value().strip()) < 32:
            raise ValueError("must be a random token of at least 32 characters")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("pseudonym_key", "signing_key")
    @classmethod
    def _real_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None  # unset (an empty variable too): the key file under var_dir
        text = value.get_secret_value().strip()
        try:
            key = bytes.fromhex(text)
        except ValueError:
            raise ValueError("must be hex digits (e.g. `openssl rand -hex 32`)") from None
        if len(key) < 16 or len(set(key)) < 8:
            raise ValueError("must be a random key of at least 32 hex digits, not a placeholder")
        return value

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

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_username and self.kafka_password
        ):
            raise ValueError(
                f"SANJIANG_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "SANJIANG_KAFKA_USERNAME and SANJIANG_KAFKA_PASSWORD"
            )
        return self

    @property
    def kafka_external(self) -> bool:
        """True when an existing cluster is configured and the local broker must not be run."""
        return self.kafka_bootstrap is not None

    @property
    def bootstrap_servers(self) -> str:
        """The bootstrap servers clients connect to."""
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"

    @property
    def warehouse_dir(self) -> Path:
        """Where the embedded warehouse keeps its data."""
        return self.warehouse_path or self.var_dir / "warehouse"

    @property
    def secrets_dir(self) -> Path:
        return self.var_dir / "secrets"


#: fields whose values never appear in an error message
_SECRET_FIELDS = frozenset(
    name for name, info in Settings.model_fields.items() if "SecretStr" in str(info.annotation)
)


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
            field = ".".join(str(part) for part in error["loc"])
            if not field:  # a rule across fields: its message names them; the input is all
                lines.append(str(error["msg"]).removeprefix("Value error, "))
                continue
            shown = "hidden" if field in _SECRET_FIELDS else repr(error.get("input"))
            lines.append(f"{env_name(field)}: {error['msg']} (got {shown})")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
