"""The station network: the shape the article names, consistent populations, venues and hours."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

from sanjiang.network import Network, load_network
from sanjiang.taxonomy import load_taxonomy

NETWORK = load_network()
TZ = ZoneInfo("Asia/Shanghai")


def raw_network() -> dict[str, Any]:
    data = yaml.safe_load(NETWORK.model_dump_json())
    assert isinstance(data, dict)
    return copy.deepcopy(data)


def test_shape_is_1_4_28_x() -> None:
    kinds = Counter(s.kind for s in NETWORK.stations)
    assert (kinds["center"], kinds["grid"], kinds["residential"]) == (1, 4, 28)
    assert kinds["partner"] >= 1


def test_ids_are_unique_and_venues_belong_to_their_station() -> None:
    station_ids = [s.id for s in NETWORK.stations]
    assert len(station_ids) == len(set(station_ids))
    venue_ids = [v.id for s in NETWORK.stations for v in s.venues]
    assert len(venue_ids) == len(set(venue_ids))
    for station in NETWORK.stations:
        assert station.venues
        for venue in station.venues:
            assert NETWORK.venue_station[venue.id] == station.id


def test_populations() -> None:
    residential = [s for s in NETWORK.stations if s.kind == "residential"]
    assert sum(s.population or 0 for s in residential) == NETWORK.subdistrict.residents == 101_500
    center = next(s for s in NETWORK.stations if s.kind == "center")
    assert NETWORK.population(center.id) == 101_500
    grids = [s for s in NETWORK.stations if s.kind == "grid"]
    assert sum(NETWORK.population(g.id) for g in grids) == 101_500  # grids partition residents
    for station in NETWORK.stations:
        assert 0 < NETWORK.population(station.id) <= 101_500


def test_center_has_the_five_named_spaces() -> None:
    center = NETWORK.station("WS-C")
    names = {v.name for v in center.venues}
    for space in ("创·享", "创·乐", "创·学", "创·联", "创·智"):
        assert any(name.startswith(space) for name in names), space
    assert len(center.venues) > 5  # plus composite spaces


def test_coordinates_inside_wusong() -> None:
    for station in NETWORK.stations:
        assert 31.37 <= station.lat <= 31.41 and 121.475 <= station.lon <= 121.515, station.id


def test_every_venue_opens_some_time() -> None:
    for venue in NETWORK.venues.values():
        assert venue.weekly_hours > 0, venue.id


def test_opening_windows_are_clipped_to_the_period() -> None:
    venue = next(iter(NETWORK.venues.values()))
    start = datetime(2026, 11, 23, 0, 0, tzinfo=TZ)  # a Monday
    end = datetime(2026, 11, 30, 0, 0, tzinfo=TZ)
    windows = NETWORK.opening_windows(venue.id, start, end)
    total = sum((hi - lo).total_seconds() for lo, hi in windows) / 3600
    assert total == pytest.approx(venue.weekly_hours)
    half = NETWORK.opening_windows(venue.id, start, datetime(2026, 11, 23, 12, 0, tzinfo=TZ))
    assert all(lo >= start and hi <= datetime(2026, 11, 23, 12, 0, tzinfo=TZ) for lo, hi in half)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (
            lambda d: d["stations"].append(copy.deepcopy(d["stations"][0])),
            "station ids must be unique",
        ),
        (lambda d: d["stations"].pop(1), "expected 4 grid station"),
        (
            lambda d: d.__setitem__("subdistrict", {**d["subdistrict"], "residents": 100_000}),
            "populations sum to 101500",
        ),
        (
            lambda d: d["stations"][0]["venues"][0].__setitem__(
                "opening_hours", {"mon": ["20:00-08:00"]}
            ),
            "end must be after start",
        ),
        (
            lambda d: d["stations"][0]["venues"][0].__setitem__(
                "opening_hours", {"mon": ["08:00-12:00", "11:00-13:00"]}
            ),
            "overlap",
        ),
        (
            lambda d: d["stations"][0]["venues"][0].__setitem__("id", "ELSEWHERE-1"),
            "must be prefixed by its station id",
        ),
        (lambda d: d["stations"][0]["venues"][0].__setitem__("capacity", 0), "greater than 0"),
    ],
)
def test_broken_networks_are_rejected(breakage: Any, message: str) -> None:
    data = raw_network()
    breakage(data)
    with pytest.raises(ValidationError, match=message):
        Network.model_validate(data)


def test_taxonomy_covers_programs_and_survey_families() -> None:
    taxonomy = load_taxonomy()
    assert {f.name for f in taxonomy.families} == {"文体服务", "场地预约", "生活服务"}
    assert {p.name for p in taxonomy.programs} == {
        "巧手工坊",
        "美味训练营",
        "百姓展厅",
        "健身养生",
        "科普实践",
        "书法绘画",
        "人才沙龙",
        "樱花在线",
    }
    shares = {f.id: f.survey_share for f in taxonomy.families}
    assert shares["culture_sports"] > shares["venue_booking"] > shares["daily_life"]
    for program in taxonomy.programs:
        assert taxonomy.is_known(program.category, program.id)
    assert not taxonomy.is_known("handcraft", "meiwei_camp")
