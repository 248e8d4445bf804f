"""``sanjiang up``: start the platform's processes, watch them, stop them cleanly on Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
import urllib.request
from datetime import datetime, timedelta
from types import FrameType
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sanjiang.cli.common import console, fail, say, settings_of
from sanjiang.cli.users import first_admin, initial_password_path
from sanjiang.cli.warehouse import wait_for_sink
from sanjiang.kafka.broker import KafkaError, LocalKafka
from sanjiang.kafka.topics import Topics, ensure_topics
from sanjiang.settings import Settings
from sanjiang.supervisor import BrokerService, ChildSpec, Supervisor


class _SignalledStopError(Exception):
    """Raised by the signal handler to leave the watch loop."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise _SignalledStopError(signal.Signals(signum).name)


def _wait_http(url: str, timeout_s: float, supervisor: Supervisor) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        supervisor.watch()
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def _login_hint(settings: Settings, new_password: str | None) -> list[str]:
    path = initial_password_path(settings)
    if new_password is not None:
        return [
            f"  log in               user [bold]admin[/bold], password [bold]{new_password}[/bold]"
            f" (kept in {path}; change it: sanjiang user passwd admin)",
        ]
    if path.exists():
        return [f"  log in               user admin; its first password is in {path}"]
    return ["  log in               with your staff account (sanjiang user add NAME --role …)"]


def _banner(
    settings: Settings, simulate: bool, supervisor: Supervisor, new_password: str | None
) -> str:
    base = f"http://{settings.api_host}:{settings.api_port}"
    topics = ", ".join(spec.name for spec in Topics.from_settings(settings).specs())
    lines = [
        "",
        "[bold]三江驿 Sanjiang is up.[/bold]",
        f"  command-center screen (指挥中心大屏)  {base}/screen",
        f"  live page (实时态势)  {base}/live",
        *_login_hint(settings, new_password),
        f"  API docs (OpenAPI)   {base}/docs",
        f"  event ingest         POST {base}/v1/events  (keys: sanjiang kiosk add …)",
        f"  KPIs                 {base}/v1/kpis?from=YYYY-MM-DD&to=YYYY-MM-DD[&station=WS-C]",
        f"  history              {base}/v1/history/timeseries | /funnel | /heat",
        f"  live (stream worker) {base}/v1/live/network | /venues | /kiosks | /stations/WS-C",
        f"  live changes (SSE)   {base}/v1/live/stream",
        f"  analyst SQL          POST {base}/v1/sql  (a staff analyst's token, or "
        "sanjiang kiosk add NAME --kind analyst --station WS-C)",
        f"  staff token          POST {base}/v1/auth/token  (OAuth2 password flow)",
        f"  warehouse (chDB)     {settings.warehouse_dir.resolve()}  (hosted by the API)",
        f"  health               {base}/healthz",
        f"  metrics (Prometheus) {base}/metrics (SANJIANG_METRICS_TOKEN, or a staff token that "
        "sees the network); " + _worker_metrics(settings),
        f"  Kafka bootstrap      {settings.bootstrap_servers}",
        f"  topics               {topics}",
        f"  logs                 {supervisor.logs_dir}",
    ]
    if simulate:
        lines.append(
            "  simulator            feeding the network live "
            f"(log: {supervisor.log_path('simulator')})"
        )
    else:
        lines.append("  waiting for real kiosks (add --simulate to feed simulated stations)")
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


def _worker_metrics(settings: Settings) -> str:
    ports = {"streams": settings.streams_metrics_port, "deciders": settings.deciders_metrics_port}
    served = [
        f"{name} http://{settings.metrics_host}:{port}/metrics"
        for name, port in ports.items()
        if port
    ]
    return ", ".join(served) or "the workers' are off"


def _needs_history(settings: Settings) -> bool:
    """A first run: no history published before, and no event in the topic at all."""
    from producers.history import loaded, topic_is_empty

    if loaded(settings) is not None:
        return False
    if not asyncio.run(topic_is_empty(settings)):
        say("history: the event topic already holds events; no simulated history added")
        return False
    return True


def _publish_history(settings: Settings, days: int, seed: int) -> None:
    from producers.history import publish_history
    from sanjiang.network import load_network
    from sanjiang.pseudonym import pseudonymizer_for
    from sanjiang.taxonomy import load_taxonomy

    network = load_network(settings.network_file)
    say(f"first run: {days} days of simulated history, so there is something to compare with")
    with Progress(
        TextColumn("[bold]history[/bold] simulating and publishing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("history", total=days)
        first = datetime.now(network.tz).date() - timedelta(days=days)
        history = asyncio.run(
            publish_history(
                settings,
                network,
                load_taxonomy(),
                pseudonymizer_for(settings),
                days=days,
                seed=seed,
                progress=lambda day: progress.update(task, completed=(day - first).days),
            )
        )
        progress.update(task, completed=days)
    say(f"history: {history.events:,} events, {history.first_day} … {history.last_day} (to now)")
    decisions = dict(history.decisions)
    accepted = decisions.pop("accepted", 0)
    refused = ", ".join(f"{reason} {n:,}" for reason, n in sorted(decisions.items()))
    say(
        f"history: the deciders accepted {accepted:,} of its commands"
        + (f" and refused {sum(decisions.values()):,} ({refused})" if decisions else "")
    )


def up(
    ctx: typer.Context,
    simulate: Annotated[
        bool,
        typer.Option("--simulate", help="Also run the network simulator, live, through the API."),
    ] = False,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 1,
    history_days: Annotated[
        int,
        typer.Option(
            min=0,
            help="With --simulate, on a first run: days of simulated history loaded before "
            "the live feed starts (0: none).",
        ),
    ] = 28,
) -> None:
    """Start Kafka (unless external), the topics, the API and the stream worker; with
    --simulate, the simulator."""
    settings = settings_of(ctx)
    supervisor = Supervisor(settings.var_dir / "logs", say)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        if not settings.kafka_external:
            broker = LocalKafka(settings)
            if broker.pid() is None:
                supervisor.add(BrokerService(broker, say))  # started, watched, stopped last
                say(broker.status().describe())
            else:
                say(f"{broker.status().describe()} (started before: left running at the end)")
        else:
            say(f"kafka: external cluster at {settings.bootstrap_servers}")
        result = asyncio.run(ensure_topics(settings))
        say(f"topics: {len(result.created)} created, {len(result.existing)} already there")
        first_run = simulate and history_days > 0 and _needs_history(settings)
        # audited (an event on the topics), so after them, and after looking for a first run
        new_password = first_admin(settings)
        if first_run:
            _publish_history(settings, history_days, seed)

        cli = [sys.executable, "-m", "sanjiang"]
        supervisor.start(ChildSpec("api", [*cli, "api"]))
        health = f"http://{settings.api_host}:{settings.api_port}/healthz"
        if not _wait_http(health, 60, supervisor):
            fail(f"the API did not answer on {health}; see {supervisor.log_path('api')}")
        say(f"api: answering on http://{settings.api_host}:{settings.api_port}")
        supervisor.start(ChildSpec("streams", [*cli, "streams"]))
        supervisor.start(ChildSpec("deciders", [*cli, "deciders"]))
        if first_run:  # the history is in the warehouse before the live feed starts
            wait_for_sink(settings)
        if simulate:
            supervisor.start(
                ChildSpec(
                    "simulator", [*cli, "simulate", "--live", "--via", "http", "--seed", str(seed)]
                )
            )
        say(_banner(settings, simulate, supervisor, new_password))
        while True:
            time.sleep(1.0)
            supervisor.watch()
    except (KeyboardInterrupt, _SignalledStopError):
        say("\nstopping…")
    except KafkaError as exc:
        say(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    finally:
        # More signals (make forwards one, an impatient Ctrl-C) must not cut the stop short:
        # every child is stopped, the broker last, before this process exits.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        supervisor.stop()
        say("stopped")
