"""设备运行: kiosk health (heartbeats, offline kiosks), pipeline health (warehouse sink lag,
dead letters, late events, the live worker), the kiosk facts in conflict with the platform's
decisions (``sanjiang.conflicts``), and the processes' own metrics (``sanjiang.metrics``, PromQL
on the Prometheus datasource: rates, lag, durations, memory)."""

from __future__ import annotations

from dashboards.boards.common import COUNTS_STAT
from dashboards.model import (
    FORMAT_TIME_SERIES,
    Dashboard,
    MetricPanel,
    Panel,
    PromQuery,
    Query,
    Threshold,
)
from dashboards.sql import conflict_label, kpi_sql, live_view
from projections.conflicts import CONFLICTS_BY_DAY
from sanjiang.conflicts import KINDS, LABELS


def conflicts_panel(db: str) -> Panel:
    """Kiosk facts in conflict with the platform's decisions (``sanjiang.conflicts``) in the
    range, by day, station and kind: the network's, judged as ``GET /v1/kpis`` judges them."""
    kinds = "、".join(LABELS[kind] for kind in KINDS)
    return Panel(
        title="事实冲突（按日、站点、类型）",
        type="table",
        description=(
            f"终端记录的事实与平台决定不符（{kinds}；需报名无名额与超出活动容量按去重居民数计，"
            "需报名的活动只为持有名额（报名成功、未取消）的居民排容量）。"
            "事实照常保留；居民参与率不计场馆不存在的签到，服务满意率不计未签到者的评价。"
            "签到每条计一次，评价按居民与活动每日计一次。"
        ),
        query=Query(
            f"""
            SELECT d.day AS `日期`, ifNull(st.name, d.station_id) AS `站点`,
                   {conflict_label("d.kind")} AS `冲突类型`, d.conflicts AS `事实数`
            FROM ({kpi_sql(db, None).render(CONFLICTS_BY_DAY)}) AS d
            LEFT JOIN {db}.stations AS st ON st.station_id = d.station_id
            ORDER BY `日期` DESC, `事实数` DESC, `站点`, `冲突类型`
            """,
            columns=("日期", "站点", "冲突类型", "事实数"),
        ),
        width=24,
        height=9,
    )


RATE = "[$__rate_interval]"


def p99(histogram: str) -> str:
    """The 99th percentile of a histogram over the panel's interval, all processes together."""
    return f"histogram_quantile(0.99, sum by (le) (rate({histogram}_bucket{RATE})))"


def metric_panels() -> list[MetricPanel]:
    """The processes' metrics (what each means: the README's "Metrics")."""
    return [
        MetricPanel(
            title="实时处理速率",
            description="实时流处理每秒读取的记录（按主题）与应用到状态的事件。",
            query=PromQuery(
                (
                    (f"sum by (topic) (rate(sanjiang_fold_records_total{RATE}))", "读取 {{topic}}"),
                    (f"sum(rate(sanjiang_fold_events_applied_total{RATE}))", "已应用事件"),
                )
            ),
            unit="ops",
            width=12,
            height=8,
        ),
        MetricPanel(
            title="消费积压（按分区）",
            description=(
                "各消费者在每个分区尚未处理的记录：实时流处理按自身读取位点，"
                "仓库写入与决策器按消费组已提交位点（每 15 秒采样）。"
            ),
            query=PromQuery(
                (
                    (
                        "max by (consumer, topic, partition) (sanjiang_consumer_lag_records)",
                        "{{consumer}} {{topic}}/{{partition}}",
                    ),
                )
            ),
            unit="short",
            width=12,
            height=8,
        ),
        MetricPanel(
            title="处理耗时（p99）",
            description=(
                "实时折叠一个批次、检查点切片与写入、决策器处理一批命令、"
                "仓库写入一个批次的 99 分位耗时。"
            ),
            query=PromQuery(
                (
                    (p99("sanjiang_fold_batch_seconds"), "实时折叠批次"),
                    (p99("sanjiang_checkpoint_cut_seconds"), "检查点切片"),
                    (p99("sanjiang_checkpoint_write_seconds"), "检查点写入"),
                    (p99("sanjiang_command_batch_seconds"), "命令决策批次"),
                    (p99("sanjiang_sink_write_seconds"), "仓库写入批次"),
                )
            ),
            unit="s",
            width=12,
            height=8,
        ),
        MetricPanel(
            title="进程内存",
            description="各进程的常驻内存（RSS）。",
            query=PromQuery(
                (
                    (
                        'process_resident_memory_bytes{job=~"sanjiang-.*"}',
                        "{{job}} {{instance}}",
                    ),
                )
            ),
            unit="bytes",
            width=12,
            height=8,
        ),
        MetricPanel(
            title="仓库写入（事件/秒）",
            description="仓库写入每秒处理的事件：新写入、已存在而去重、转入死信；以及写入失败。",
            query=PromQuery(
                (
                    (f"sum by (result) (rate(sanjiang_sink_events_total{RATE}))", "{{result}}"),
                    (f"sum(rate(sanjiang_sink_write_failures_total{RATE}))", "写入失败（批次）"),
                )
            ),
            unit="ops",
            width=12,
            height=8,
        ),
        MetricPanel(
            title="仓库写入批次与积压",
            description="事件主题中仓库写入尚未提交的事件（采样），与每批写入的平均行数。",
            query=PromQuery(
                (
                    ("max(sanjiang_sink_backlog_records)", "积压事件"),
                    (
                        f"sum(rate(sanjiang_sink_batch_records_sum{RATE}))"
                        f" / sum(rate(sanjiang_sink_batch_records_count{RATE}))",
                        "平均批次行数",
                    ),
                )
            ),
            unit="short",
            width=12,
            height=8,
        ),
        MetricPanel(
            title="接入应答（按状态与原因）",
            description="终端发送的事件每秒所得应答（接受、重复、拒绝及原因），与被拒绝的请求。",
            query=PromQuery(
                (
                    (
                        f"sum by (status, reason) (rate(sanjiang_ingest_events_total{RATE}))",
                        "{{status}} {{reason}}",
                    ),
                    (
                        'sum by (code, error) (rate(sanjiang_ingest_requests_total{error!=""}'
                        f"{RATE}))",
                        "HTTP {{code}} {{error}}",
                    ),
                )
            ),
            unit="ops",
            width=8,
            height=8,
        ),
        MetricPanel(
            title="命令决定（按结果）",
            description="决策器每秒作出的决定：接受（完成、候补、待批）或拒绝（原因）；重复请求另计。",
            query=PromQuery(
                (
                    (
                        f"sum by (status, outcome) (rate(sanjiang_command_decisions_total{RATE}))",
                        "{{status}} {{outcome}}",
                    ),
                    (f"sum(rate(sanjiang_command_repeats_total{RATE}))", "重复请求"),
                )
            ),
            unit="ops",
            width=8,
            height=8,
        ),
        MetricPanel(
            title="实时推送连接",
            description="当前打开的实时推送（SSE）连接数。",
            query=PromQuery((("sum(sanjiang_sse_clients)", "连接"),)),
            unit="short",
            width=8,
            height=8,
        ),
    ]


def operations(db: str, events_topic: str) -> Dashboard:
    panels = [
        Panel(
            title="终端",
            type="stat",
            description="实时流处理所见的终端数与离线数（静默超过阈值即离线，由定时器判定）。",
            query=Query(
                f"""
                SELECT JSONExtractUInt(document, 'known') AS `终端总数`,
                       length(JSONExtractArrayRaw(document, 'offline')) AS `离线终端`
                FROM ({live_view(db, "kiosks")})
                """,
                columns=("终端总数", "离线终端"),
            ),
            width=8,
            height=5,
            options=COUNTS_STAT,
        ),
        Panel(
            title="实时管道",
            type="stat",
            description="实时流处理已应用的事件数，以及超出宽限期、只计数不入账的迟到事件。",
            query=Query(
                f"""
                SELECT JSONExtractUInt(document, 'applied') AS `已处理事件`,
                       JSONExtractUInt(document, 'too_late') AS `超宽限期事件`,
                       dateDiff('second', updated_at, now64(3)) AS `视图延迟秒`
                FROM ({live_view(db, "pipeline")})
                """,
                columns=("已处理事件", "超宽限期事件"),
            ),
            width=8,
            height=5,
            options=COUNTS_STAT,
        ),
        Panel(
            title="仓库写入积压",
            type="stat",
            description="事件主题最新位点与仓库写入进度之差（事件数）。",
            query=Query(
                f"""
                SELECT toInt64(sum(greatest(o.end_offset - ifNull(p.next_offset, 0), 0)))
                           AS `积压事件`,
                       max(o.last_sample) AS `采样时间`
                FROM (
                    SELECT partition, argMax(end_offset, sampled_at) AS end_offset,
                           max(sampled_at) AS last_sample
                    FROM {db}.topic_offsets WHERE topic = '{events_topic}'
                    GROUP BY partition
                ) AS o
                LEFT JOIN (
                    SELECT partition, toNullable(argMax(offset, written_at)) AS next_offset
                    FROM {db}.sink_progress WHERE topic = '{events_topic}'
                    GROUP BY partition
                ) AS p ON p.partition = o.partition
                """,
                columns=("积压事件",),
            ),
            width=8,
            height=5,
            thresholds=(
                Threshold(None, "green"),
                Threshold(20000, "yellow"),
                Threshold(200000, "red"),
            ),
            show_fields=("积压事件",),
            options={"colorMode": "background", "graphMode": "none"},
        ),
        Panel(
            title="离线终端",
            type="table",
            query=Query(
                f"""
                SELECT k AS `终端`, ifNull(s.name, '') AS `站点`, hb.last AS `最后心跳`,
                       hb.pending AS `待发事件`
                FROM ({live_view(db, "kiosks")})
                ARRAY JOIN JSONExtract(document, 'offline', 'Array(String)') AS k
                LEFT JOIN (
                    SELECT kiosk_id, max(occurred_at) AS last,
                           argMax(outbox_pending, occurred_at) AS pending,
                           argMax(station_id, occurred_at) AS station_id
                    FROM {db}.kiosk_heartbeats GROUP BY kiosk_id
                ) AS hb ON hb.kiosk_id = k
                LEFT JOIN {db}.stations AS s ON s.station_id = hb.station_id
                ORDER BY `最后心跳`
                """,
                columns=("终端", "站点", "最后心跳", "待发事件"),
            ),
            width=12,
            height=9,
        ),
        Panel(
            title="终端心跳",
            type="table",
            description="每台终端最近一次心跳、版本与本地待发事件数（期间内）。",
            query=Query(
                f"""
                SELECT h.kiosk_id AS `终端`, s.name AS `站点`, max(h.occurred_at) AS `最后心跳`,
                       argMax(h.app_version, h.occurred_at) AS `版本`,
                       argMax(h.outbox_pending, h.occurred_at) AS `待发事件`,
                       count() AS `心跳次数`
                FROM {db}.kiosk_heartbeats AS h
                LEFT JOIN {db}.stations AS s ON s.station_id = h.station_id
                WHERE $__timeFilter(h.occurred_at)
                GROUP BY h.kiosk_id, s.name
                ORDER BY `最后心跳`
                """,
                columns=("终端", "站点", "最后心跳", "版本", "待发事件"),
            ),
            width=12,
            height=9,
        ),
        Panel(
            title="死信（按原因）",
            type="timeseries",
            description="被拒绝的事件：每个都带原因留在死信主题中，可修复后重投。",
            query=Query(
                f"""
                SELECT $__timeInterval(rejected_at) AS time, reason, count() AS `死信`
                FROM {db}.dead_letters FINAL
                WHERE $__timeFilter(rejected_at)
                GROUP BY time, reason ORDER BY time
                """,
                columns=("time", "reason", "死信"),
                format=FORMAT_TIME_SERIES,
            ),
            width=12,
            height=8,
        ),
        Panel(
            title="迟到事件",
            type="timeseries",
            description="离线终端补传等迟到事件（按发生时间计入其时段）。",
            query=Query(
                f"""
                SELECT $__timeInterval(hour) AS time, sum(late_events) AS `迟到事件`
                FROM {db}.rollup_hourly
                WHERE $__timeFilter(hour)
                GROUP BY time ORDER BY time
                """,
                columns=("time", "迟到事件"),
                format=FORMAT_TIME_SERIES,
            ),
            width=12,
            height=8,
        ),
        Panel(
            title="最近死信",
            type="table",
            query=Query(
                f"""
                SELECT rejected_at AS `时间`, reason AS `原因`, detail AS `说明`,
                       origin AS `来源`, substring(body, 1, 200) AS `内容`
                FROM {db}.dead_letters FINAL
                WHERE $__timeFilter(rejected_at)
                ORDER BY rejected_at DESC
                LIMIT 100
                """,
                columns=("时间", "原因", "说明", "来源", "内容"),
            ),
            width=12,
            height=9,
        ),
        Panel(
            title="告警记录（按类型）",
            type="barchart",
            query=Query(
                f"""
                SELECT kind AS `类型`, count() AS `告警次数`,
                       countIf(ended_at IS NULL) AS `未结束`
                FROM {db}.alerts FINAL
                WHERE $__timeFilter(started_at)
                GROUP BY kind ORDER BY `告警次数` DESC
                """,
                columns=("类型", "告警次数", "未结束"),
            ),
            width=12,
            height=9,
            options={"xField": "类型"},
        ),
        conflicts_panel(db),
    ]
    return Dashboard(
        uid="sanjiang-operations",
        title="设备运行",
        description=(
            "终端心跳与离线、数据管道（仓库写入积压、死信、迟到事件、实时处理），"
            "与平台决定不符的终端事实（冲突），以及各进程的运行指标（Prometheus）。"
        ),
        panels=panels,
        metric_panels=metric_panels(),
        refresh="30s",
        time_from="now-24h",
    )
