"""Request models of a customer's access and erasure (pydantic v2). Unknown parameters are rejected."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from revisit.http.schemas import Civ, StoreSlug


class CustomerQuery(BaseModel):
    """GET / DELETE /api/external/customers/{civ}?storeSlug=: the store is always named (a customer
    is a civ at one store)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    storeSlug: StoreSlug


class CustomerPath(BaseModel):
    """The ``{civ}`` of the path, as the feedback's ``civ`` is checked (1-256 characters)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    civ: Civ
