"""Request models of the CIV loyalty dashboard (pydantic v2). Unknown parameters are rejected."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from revisit.http.schemas import StoreSlug

DAY_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


class PeriodQuery(BaseModel):
    """GET /api/external/dashboard/stores?from=&to= - whole UTC days, both inclusive.

    ``from`` / ``to`` are YYYY-MM-DD only (no times: the aggregates are per UTC day). Defaults and
    the 366-day limit are applied by the domain (revisit.domain.analytics.resolve_period).
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    from_: date | None = Field(default=None, alias="from")
    to: date | None = None

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _day(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise ValueError("a day as YYYY-MM-DD")
        text = value.strip()
        if not re.fullmatch(DAY_PATTERN, text):
            raise ValueError("a day as YYYY-MM-DD")
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError("not a calendar day") from None


class DashboardQuery(PeriodQuery):
    """GET /api/external/dashboard?storeSlug=&from=&to= (and /api/external/nps-score): one store's
    period; a store key may leave ``storeSlug`` out."""

    storeSlug: StoreSlug | None = None


class SeriesQuery(DashboardQuery):
    """GET /api/external/dashboard/series?storeSlug=&from=&to=&interval=day|week|month - local dates
    of the store's time zone, both inclusive (at most 366 days: revisit.domain.analytics.series)."""

    interval: Literal["day", "week", "month"] = "day"
