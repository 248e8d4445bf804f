"""The dashboards as Grafana JSON: valid, stable and wired to the provisioned datasource."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from prometheus_client import CollectorRegistry

from dashboards.model import FORMAT_TABLE, FORMAT_TIME_SERIES, SCHEMA_VERSION, Panel, Query, layout
from dashboards.provisioning import build, dashboards_for, datasource, prometheus_datasource
from sanjiang.metrics import ROLES, expose
from sanjiang.settings import load_settings

SETTINGS = load_settings()
RENDERED = [d.render() for d in dashboards_for(SETTINGS)]
CJK = re.compile(r"[\u4e00-\u9fff]")


def panels() -> list[tuple[str, dict[str, Any]]]:
    return [(d["uid"], p) for d in RENDERED for p in d["panels"]]


def test_the_issue_s_seven_dashboards_with_stable_unique_uids() -> None:
    titles = {d["title"] for d in RENDERED}
    assert titles == {
        "指挥中心总览",
        "站点详情",
        "服务闭环",
        "管理闭环",
        "活动热度分析",
        "场馆使用",
        "设备运行",
    }
    uids = [d["uid"] for d in RENDERED]
    assert len(set(uids)) == len(uids)
    assert all(re.fullmatch(r"[a-z0-9-]{8,40}", uid) for uid in uids)
    assert [d["uid"] for d in (x.render() for x in dashboards_for(SETTINGS))] == uids


def test_dashboard_json_model() -> None:
    for d in RENDERED:
        assert d["schemaVersion"] == SCHEMA_VERSION
        assert d["timezone"] == "Asia/Shanghai"
        assert "id" not in d  # Grafana assigns it; the uid is the identity
        assert d["panels"], d["title"]
        ids = [p["id"] for p in d["panels"]]
        assert len(set(ids)) == len(ids)
        orjson.loads(orjson.dumps(d))  # plain JSON all the way down


def test_panels_fit_the_grid_without_overlapping() -> None:
    for d in RENDERED:
        cells: set[tuple[int, int]] = set()
        for p in d["panels"]:
            g = p["gridPos"]
            assert g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24, (d["title"], p["title"])
            mine = {
                (x, y)
                for x in range(g["x"], g["x"] + g["w"])
                for y in range(g["y"], g["y"] + g["h"])
            }
            assert not cells & mine, f"{d['title']}: {p['title']} overlaps"
            cells |= mine


def test_layout_wraps_rows_and_refuses_impossible_widths() -> None:
    query = Query("SELECT 1 AS x", columns=("x",))
    placed = layout(
        [
            Panel("a", "stat", query, 16, 4),
            Panel("b", "stat", query, 16, 6),
            Panel("c", "stat", query, 8, 2),
        ]
    )
    assert [(x, y) for _, x, y in placed] == [(0, 0), (0, 4), (16, 4)]
    with pytest.raises(ValueError, match="width"):
        layout([Panel("wide", "stat", query, 25, 4)])


def test_every_target_uses_the_provisioned_datasource_and_a_numeric_format() -> None:
    uid = datasource(SETTINGS)["uid"]
    for board, p in panels():
        if p["datasource"]["type"] == "prometheus":
            continue  # the processes' metrics: test_metric_panels_read_prometheus
        assert p["datasource"]["uid"] == uid
        assert len(p["targets"]) == 1
        for target in p["targets"]:
            assert target["datasource"] == {"type": "grafana-clickhouse-datasource", "uid": uid}
            assert target["format"] in (FORMAT_TIME_SERIES, FORMAT_TABLE), (board, p["title"])
            assert target["editorType"] == "sql" and target["rawSql"].lstrip().upper().startswith(
                ("SELECT", "WITH")
            )
            if p["type"] == "timeseries":
                assert target["format"] == FORMAT_TIME_SERIES
                assert "AS time" in target["rawSql"], (board, p["title"])


def test_metric_panels_read_prometheus() -> None:
    uid = prometheus_datasource(SETTINGS)["uid"]
    metric = [(board, p) for board, p in panels() if p["datasource"]["type"] == "prometheus"]
    assert {board for board, _ in metric} == {"sanjiang-operations"}
    assert len(metric) >= 8
    for _, p in metric:
        assert p["datasource"]["uid"] == uid and p["type"] == "timeseries", p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(set(refs)) == len(refs) and refs
        for target in p["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": uid}
            assert "rawSql" not in target and target["expr"].strip(), p["title"]
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
            assert target["legendFormat"], p["title"]


def test_metric_panels_query_only_metrics_the_processes_define() -> None:
    """Every name a PromQL panel reads is a metric of ``sanjiang.metrics`` (a counter's
    ``_total``, a histogram's ``_bucket``, ``_sum`` or ``_count``) or the client library's
    process metrics; the test of ``sanjiang up`` checks them against real scrapes."""
    defined = exposed_names()
    assert "sanjiang_fold_records_total" in defined
    assert "sanjiang_fold_batch_seconds_bucket" in defined
    for board in dashboards_for(SETTINGS):
        for panel in board.metric_panels:
            for name in panel.query.metric_names():
                assert name in defined or name.startswith("process_"), (
                    f"{board.uid} / {panel.title}: no metric {name}"
                )


def exposed_names() -> set[str]:
    """The sample names the processes' metrics can have."""
    registry = CollectorRegistry()
    expose(*ROLES, registry=registry)
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    return {
        family.name + suffix
        for family in registry.collect()
        for suffix in suffixes.get(family.type, ("",))
    }


def test_what_users_see_is_chinese() -> None:
    for d in RENDERED:
        assert CJK.search(d["title"])
        for p in d["panels"]:
            assert CJK.search(p["title"]), p["title"]
        for v in d["templating"]["list"]:
            assert CJK.search(v["label"])


def test_station_variable_is_multi_select_with_all_and_used_through_conditional_all() -> None:
    for d in RENDERED:
        variables = {v["name"]: v for v in d["templating"]["list"]}
        if "station" not in variables:
            assert not any("$station" in orjson.dumps(p["targets"]).decode() for p in d["panels"])
            continue
        station = variables["station"]
        assert station["multi"] and station["includeAll"]
        assert station["datasource"]["uid"] == datasource(SETTINGS)["uid"]
        for p in d["panels"]:
            sql = p["targets"][0]["rawSql"]
            # a multi-value variable is only ever used quoted and inside $__conditionalAll
            assert "${station:singlequote}" in sql or "$station" not in sql
            assert sql.count("${station:singlequote}") == sql.count("$__conditionalAll(")


def test_build_writes_dashboards_and_provisioning(tmp_path: Path) -> None:
    result = build(SETTINGS, tmp_path)
    assert sorted(p.name for p in result.dashboards) == sorted(f"{d['uid']}.json" for d in RENDERED)
    for path in result.dashboards:
        assert orjson.loads(path.read_bytes())["uid"] == path.stem
    sources = yaml.safe_load((tmp_path / "provisioning/datasources/sanjiang.yaml").read_text())
    source, prometheus = sources["datasources"]
    assert prometheus["uid"] == "sanjiang-prometheus" and prometheus["type"] == "prometheus"
    assert prometheus["url"] == SETTINGS.grafana_prometheus_url and not prometheus["isDefault"]
    assert source["uid"] == "sanjiang-clickhouse" and source["isDefault"]
    assert source["type"] == "grafana-clickhouse-datasource"
    assert source["jsonData"]["username"] == "grafana_ro"  # the read-only user
    assert source["secureJsonData"]["password"] == "${SANJIANG_GRAFANA_CLICKHOUSE_PASSWORD}"
    providers = yaml.safe_load((tmp_path / "provisioning/dashboards/sanjiang.yaml").read_text())
    assert providers["providers"][0]["folderUid"] == "sanjiang"
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_committed_build_in_infra_matches_the_code(tmp_path: Path) -> None:
    """infra/grafana is what the compose stack mounts: it must be today's build."""
    committed = Path(__file__).resolve().parents[2] / "infra" / "grafana"
    build(SETTINGS, tmp_path)
    for fresh in sorted(tmp_path.rglob("*.*")):
        twin = committed / fresh.relative_to(tmp_path)
        assert twin.exists(), f"{twin} missing: run `sanjiang dashboards build`"
        assert twin.read_bytes() == fresh.read_bytes(), (
            f"{twin} is stale: run `sanjiang dashboards build`"
        )
