"""The service programs as staff run them, and the activities built from them.

A profile says where a program can be held (venue kinds: 美味训练营 needs a kitchen, 健身养生 a
gym, yard, studio, space or room, …), for whom (audiences with weights: 书法绘画 elderly 60%,
children 40%; 人才沙龙 young talent 75%, new-employment 25%; …), how long (60-120 min), for how
many (a typical capacity of 16-40, never above the venue's) and about what (titles). Staff weigh
programs by the profile's weight and their station kind (the center and partner sites run more
talent salons, residential stations fewer). Who registers for an audience: an "elderly"
activity draws 90% elderly and 10% other adults, a "children" one 85% children and 15% teens,
"all" every group by its share of active users.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from producers.simulator.population import GROUP_SHARES, Group, Resident
from producers.simulator.reservations import Reservation
from producers.simulator.rhythms import Curve
from sanjiang.events.types import TargetGroup
from sanjiang.network import Network, StationKind, Venue, VenueKind


@dataclass(frozen=True)
class ProgramProfile:
    """How a program is run: where, for whom, how long, how many, and what about."""

    venue_kinds: frozenset[VenueKind]
    audiences: tuple[tuple[TargetGroup, float], ...]
    durations: tuple[int, ...]
    capacity: int
    weight: float
    topics: tuple[str, ...]


PROFILES: dict[str, ProgramProfile] = {
    "qiaoshou_workshop": ProgramProfile(
        frozenset({"room", "studio", "space"}),
        (("elderly", 0.40), ("children", 0.35), ("families", 0.25)),
        (90,),
        20,
        1.2,
        ("剪纸入门", "中国结编织", "布艺香囊", "衍纸花", "亲子手工灯笼", "黏土捏塑"),
    ),
    "meiwei_camp": ProgramProfile(
        frozenset({"kitchen"}),
        (("families", 0.35), ("elderly", 0.25), ("youth_talent", 0.25), ("new_employment", 0.15)),
        (120,),
        16,
        3.0,
        ("本帮家常菜", "健康低盐餐", "亲子烘焙", "一人食快手菜", "节令点心"),
    ),
    "baixing_gallery": ProgramProfile(
        frozenset({"space", "hall", "room"}),
        (("all", 0.60), ("elderly", 0.20), ("families", 0.20)),
        (60, 90),
        40,
        0.6,
        ("居民摄影展导览", "老物件里的吴淞", "三江记忆图片展", "居民书画作品展"),
    ),
    "jianshen_yangsheng": ProgramProfile(
        frozenset({"gym", "outdoor", "studio", "space", "room"}),
        (("elderly", 0.55), ("youth_talent", 0.25), ("new_employment", 0.20)),
        (60,),
        25,
        1.5,
        ("太极拳", "八段锦", "瑜伽", "健身操", "颈肩放松", "科学健身讲座"),
    ),
    "kepu_practice": ProgramProfile(
        frozenset({"room", "space", "studio", "hall"}),
        (("children", 0.70), ("families", 0.30)),
        (90,),
        25,
        1.0,
        ("小小科学家实验", "机器人编程", "航模制作", "自然观察", "防灾安全体验"),
    ),
    "shufa_huihua": ProgramProfile(
        frozenset({"room", "studio", "space"}),
        (("elderly", 0.60), ("children", 0.40)),
        (90,),
        20,
        1.1,
        ("硬笔书法", "毛笔楷书", "国画花鸟", "水彩入门", "儿童创意画"),
    ),
    "rencai_salon": ProgramProfile(
        frozenset({"hall", "space", "room"}),
        (("youth_talent", 0.75), ("new_employment", 0.25)),
        (90, 120),
        40,
        0.7,
        ("青年创业分享会", "职场沟通技巧", "骑手权益与保障", "科创园区开放日", "求职简历工作坊"),
    ),
    "yinghua_online": ProgramProfile(
        frozenset({"room", "studio", "space"}),
        (("elderly", 0.45), ("youth_talent", 0.35), ("all", 0.20)),
        (60, 90),
        25,
        0.8,
        ("智能手机课堂", "线上读书会", "网络安全讲座", "短视频拍摄", "云上文化直播"),
    ),
}
#: For programs the taxonomy may add later.
DEFAULT_PROFILE = ProgramProfile(
    frozenset({"room", "space", "hall", "studio"}), (("all", 1.0),), (90,), 25, 0.5, ("专题活动",)
)
#: Station kind -> program -> weight multiplier.
KIND_BOOST: dict[StationKind, dict[str, float]] = {
    "center": {"rencai_salon": 2.0, "yinghua_online": 1.5},
    "grid": {"rencai_salon": 1.2},
    "residential": {"rencai_salon": 0.3, "baixing_gallery": 0.5},
    "partner": {"rencai_salon": 2.0, "kepu_practice": 1.5},
}
REGISTRANTS: dict[TargetGroup, tuple[tuple[Group, float], ...]] = {
    "elderly": (("elderly", 0.9), ("adults", 0.1)),
    "children": (("children", 0.85), ("teens", 0.15)),
    "youth_talent": (("youth", 0.8), ("new_employment", 0.1), ("adults", 0.1)),
    "new_employment": (("new_employment", 0.8), ("youth", 0.2)),
    "families": (("children", 0.5), ("adults", 0.35), ("elderly", 0.15)),
    "all": tuple(GROUP_SHARES.items()),
}
#: Who registers also depends on who is free then: group weight x (floor + curve at start).
FREE_FLOOR = 0.3
AUDIENCE_CURVE: dict[TargetGroup, Curve] = {
    "elderly": "elderly",
    "children": "children",
    "youth_talent": "youth",
    "new_employment": "new_employment",
    "families": "families",
    "all": "all",
}
SHOW_FACTOR: dict[Group, float] = {
    "elderly": 1.06,
    "children": 1.0,
    "teens": 0.95,
    "youth": 0.92,
    "new_employment": 0.88,
    "adults": 0.97,
}


@dataclass(slots=True)
class Draft:
    """A designed activity, before it gets a venue and a time."""

    activity_id: str
    station_id: str
    staff_id: str
    program: str
    category: str
    title: str
    audience: TargetGroup
    target_groups: list[TargetGroup]
    capacity: int
    duration: timedelta
    #: Fixed day (activities published at the start of a run), else chosen when publishing.
    day: date | None
    #: Only residents holding a place may come (small classes, see ``activities``).
    registration_required: bool = False


@dataclass(slots=True)
class Activity:
    """A published activity as it stands now."""

    draft: Draft
    venue_id: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    reservation: Reservation
    version: int = 0
    cancelled: bool = False
    registrations: dict[str, Resident] = field(default_factory=dict)

    @property
    def activity_id(self) -> str:
        """The activity's id (from its design)."""
        return self.draft.activity_id


def profile(program: str) -> ProgramProfile:
    """The profile of a program (a generic one for programs added to the taxonomy later)."""
    return PROFILES.get(program, DEFAULT_PROFILE)


def venues_for(network: Network, station_id: str, program: str) -> list[Venue]:
    """The station's venues where the program can be held."""
    kinds = profile(program).venue_kinds
    return [v for v in network.by_id[station_id].venues if v.kind in kinds]
