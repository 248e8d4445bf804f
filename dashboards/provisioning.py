"""Grafana provisioning for Sanjiang: the ClickHouse datasource (read-only user, fixed uid), the
Prometheus datasource (the processes' metrics) and a file provider for the dashboards, plus
`build` that writes them with the dashboard JSON."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml

from dashboards.boards import all_dashboards
from dashboards.model import (
    DATASOURCE_TYPE,
    DATASOURCE_UID,
    PROMETHEUS_TYPE,
    PROMETHEUS_UID,
    Dashboard,
)
from sanjiang.kafka.topics import Topics
from sanjiang.settings import Settings

DATASOURCE_NAME = "Sanjiang ClickHouse"
PROMETHEUS_NAME = "Sanjiang Prometheus"
FOLDER_UID = "sanjiang"
FOLDER_TITLE = "三江驿"
#: Where the compose stack mounts the dashboard files inside the Grafana container.
CONTAINER_DASHBOARDS = "/var/lib/grafana/dashboards"
PASSWORD_ENV = "SANJIANG_GRAFANA_CLICKHOUSE_PASSWORD"


def dashboards_for(settings: Settings) -> list[Dashboard]:
    """Every dashboard for this deployment's database and topics."""
    return all_dashboards(settings.clickhouse_database, Topics.from_settings(settings).events)


def datasource(settings: Settings, password: str | None = None) -> dict[str, Any]:
    """The datasource as Grafana's API and provisioning take it; ``password`` goes to Grafana's
    secure fields (provisioning passes an environment reference, never a literal)."""
    source: dict[str, Any] = {
        "name": DATASOURCE_NAME,
        "type": DATASOURCE_TYPE,
        "uid": DATASOURCE_UID,
        "access": "proxy",
        "isDefault": True,
        "editable": False,
        "jsonData": {
            "host": settings.grafana_clickhouse_host,
            "port": settings.grafana_clickhouse_port,
            "protocol": settings.grafana_clickhouse_protocol,
            "secure": False,
            "username": settings.grafana_clickhouse_user,
            "defaultDatabase": settings.clickhouse_database,
            "dialTimeout": "10",
            "queryTimeout": "60",
        },
    }
    if password is not None:
        source["secureJsonData"] = {"password": password}
    return source


def prometheus_datasource(settings: Settings) -> dict[str, Any]:
    """Prometheus, which scrapes every process (``infra/prometheus/prometheus.yml``)."""
    return {
        "name": PROMETHEUS_NAME,
        "type": PROMETHEUS_TYPE,
        "uid": PROMETHEUS_UID,
        "access": "proxy",
        "url": settings.grafana_prometheus_url,
        "isDefault": False,
        "editable": False,
        # the scrape interval: $__rate_interval is at least four of them
        "jsonData": {"httpMethod": "POST", "timeInterval": "15s"},
    }


def datasources(settings: Settings, password: str | None = None) -> list[dict[str, Any]]:
    """Every datasource the dashboards read: ClickHouse (``password`` as in ``datasource``)
    and Prometheus."""
    return [datasource(settings, password), prometheus_datasource(settings)]


@dataclass(frozen=True)
class BuildResult:
    dashboards: list[Path]
    provisioning: list[Path]


def build(settings: Settings, out: Path) -> BuildResult:
    """Write ``out/dashboards/<uid>.json`` and ``out/provisioning/{datasources,dashboards}/
    sanjiang.yaml`` (the password stays an environment reference, never a literal)."""
    board_dir = out / "dashboards"
    board_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for dashboard in dashboards_for(settings):
        path = board_dir / f"{dashboard.uid}.json"
        path.write_bytes(
            orjson.dumps(dashboard.render(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
            + b"\n"
        )
        written.append(path)
    sources = {
        "apiVersion": 1,
        "datasources": datasources(settings, password="${" + PASSWORD_ENV + "}"),
    }
    providers = {
        "apiVersion": 1,
        "providers": [
            {
                "name": "sanjiang",
                "orgId": 1,
                "folder": FOLDER_TITLE,
                "folderUid": FOLDER_UID,
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": CONTAINER_DASHBOARDS},
            }
        ],
    }
    files = []
    for kind, document in (("datasources", sources), ("dashboards", providers)):
        path = out / "provisioning" / kind / "sanjiang.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        header = (
            "# Written by `sanjiang dashboards build`; edit the code in dashboards/, not this.\n"
        )
        path.write_text(header + yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
        files.append(path)
    return BuildResult(written, files)
