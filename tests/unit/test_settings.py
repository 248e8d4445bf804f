"""Settings: defaults, environment, and fail-fast errors that name the variable."""

from __future__ import annotations

import pytest

from sanjiang.settings import ConfigError, Settings, load_settings


def test_defaults_run_the_local_broker() -> None:
    settings = Settings()
    assert not settings.kafka_external
    assert settings.bootstrap_servers == f"127.0.0.1:{settings.kafka_port}"


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANJIANG_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("SANJIANG_EVENT_PARTITIONS", "12")
    settings = load_settings()
    assert settings.kafka_external
    assert settings.bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert settings.event_partitions == 12


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "SANJIANG_KAFKA_PORT",
            "70000",
            "SANJIANG_KAFKA_PORT: Input should be less than or equal to 65535",
        ),
        ("SANJIANG_KAFKA_PORT", "abc", "SANJIANG_KAFKA_PORT: Input should be a valid integer"),
        (
            "SANJIANG_KAFKA_BOOTSTRAP",
            "no-port",
            "SANJIANG_KAFKA_BOOTSTRAP: Value error, expected host:port",
        ),
        (
            "SANJIANG_TOPIC_PREFIX",
            "Bad Prefix",
            "SANJIANG_TOPIC_PREFIX: String should match pattern",
        ),
        ("SANJIANG_KAFKA_HEAP", "lots", "SANJIANG_KAFKA_HEAP: String should match pattern"),
    ],
)
def test_bad_values_fail_fast_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_unknown_setting_is_refused() -> None:
    with pytest.raises(ConfigError, match="SANJIANG_KAFKA_PROT"):
        load_settings(kafka_prot=1)


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.kafka_port = 1  # type: ignore[misc]
