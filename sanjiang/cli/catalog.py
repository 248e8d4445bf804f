"""``sanjiang schema export`` and ``sanjiang network export``: reference data for integrators."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from sanjiang.cli.common import say, settings_of
from sanjiang.events import EVENT_TYPES
from sanjiang.network import Network, load_network

schema_app = typer.Typer(help="The event catalog as JSON Schema.", no_args_is_help=True)
network_app = typer.Typer(help="The station network.", no_args_is_help=True)


def event_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema (draft 2020-12) of every event type's current version, by type name."""
    schemas = {}
    for name, cls in EVENT_TYPES.items():
        schema = cls.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"urn:sanjiang:event:{name}:v{cls.VERSION}"
        schemas[name] = schema
    return schemas


@schema_app.command("export")
def export_schema(
    out: Annotated[
        Path | None, typer.Option(help="Folder for one file per event type; stdout if omitted.")
    ] = None,
) -> None:
    """Write the JSON Schema of every event type (for kiosk vendors)."""
    schemas = event_schemas()
    if out is None:
        typer.echo(json.dumps(schemas, ensure_ascii=False, indent=2))
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in schemas.items():
        path = out / f"{name}.v{EVENT_TYPES[name].VERSION}.schema.json"
        path.write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    say(f"wrote {len(schemas)} schemas to {out}")


def network_document(network: Network) -> dict[str, Any]:
    """The network as JSON-ready data, each station with the population it serves."""
    doc = network.model_dump(mode="json")
    for station in doc["stations"]:
        station["population_served"] = network.population(station["id"])
    return doc


@network_app.command("export")
def export_network(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (the only format for now).")
    ] = True,
) -> None:
    """Print the station network (stations, populations served, venues, opening hours)."""
    network = load_network(settings_of(ctx).network_file)
    typer.echo(json.dumps(network_document(network), ensure_ascii=False, indent=2))
