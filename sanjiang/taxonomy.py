"""The one service-category taxonomy shared by demands and activities.

Three levels: survey families > categories > programs.
"""

from __future__ import annotations

from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sanjiang.events.types import TaxonomyId

Name = Annotated[str, Field(min_length=1, max_length=40)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Family(_Frozen):
    """A survey family (文体服务, 场地预约, 生活服务) with its share of survey responses."""

    id: TaxonomyId
    name: Name
    survey_share: Annotated[float, Field(gt=0, le=1)]


class Category(_Frozen):
    id: TaxonomyId
    name: Name
    family: TaxonomyId


class Program(_Frozen):
    """A named service program (巧手工坊, 美味训练营, …); each belongs to one category."""

    id: TaxonomyId
    name: Name
    category: TaxonomyId


class Taxonomy(_Frozen):
    families: tuple[Family, ...]
    categories: tuple[Category, ...]
    programs: tuple[Program, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for kind, items in (
            ("family", self.families),
            ("category", self.categories),
            ("program", self.programs),
        ):
            ids = [i.id for i in items]
            if len(ids) != len(set(ids)):
                raise ValueError(f"{kind} ids must be unique")
        families = {f.id for f in self.families}
        for category in self.categories:
            if category.family not in families:
                raise ValueError(f"category {category.id}: unknown family {category.family}")
        categories = {c.id for c in self.categories}
        for program in self.programs:
            if program.category not in categories:
                raise ValueError(f"program {program.id}: unknown category {program.category}")
        return self

    @cached_property
    def category_by_id(self) -> dict[str, Category]:
        return {c.id: c for c in self.categories}

    @cached_property
    def program_by_id(self) -> dict[str, Program]:
        return {p.id: p for p in self.programs}

    def is_known(self, category: str, program: str | None = None) -> bool:
        """True if the category exists and, when given, the program belongs to it."""
        if category not in self.category_by_id:
            return False
        return program is None or (
            program in self.program_by_id and self.program_by_id[program].category == category
        )


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Load and validate the taxonomy file (the packaged one by default)."""
    if path is None:
        text = resources.files("sanjiang").joinpath("data/categories.yaml").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    return Taxonomy.model_validate(yaml.safe_load(text))
