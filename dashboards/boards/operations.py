"""设备运行: kiosk health (heartbeats, offline kiosks), pipeline health (warehouse sink lag,
dead letters, late events, the live worker) and the kiosk facts in conflict with the platform's
decisions (``sanjiang.conflicts``)."""

from __future__ import annotations

from dashboards.boards.common import COUNTS_STAT
from dashboards.model import FORMAT_TIME_SERIES, Dashboard, Panel, Query, Threshold
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
            "以及与平台决定不符的终端事实（冲突）。"
        ),
        panels=panels,
        refresh="30s",
        time_from="now-24h",
    )
