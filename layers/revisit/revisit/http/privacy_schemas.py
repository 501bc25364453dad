"""Request models of a customer's access and erasure (pydantic v2). Unknown parameters are rejected."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from revisit.http.schemas import Civ, StoreSlug


class CustomerQuery(BaseModel):
    """GET / DELETE /api/external/customers/{civ}?storeSlug=: the store is always named (a customer
    is a civ at one store)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    storeSlug: StoreSlug
    # Also the store's NPS reviews left with this email or phone (POST /nps/create's reviewer
    # identity) that carry no loyalty_id - or this one: found by their reviewer number.
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{6,24}$")] | None = None

    def contacts(self) -> list[str]:
        """The reviewer identities, normalised as POST /nps/create hashes them."""
        out = [f"email:{self.email.strip().lower()}"] if self.email else []
        return out + ([f"phone:{self.phone.strip()}"] if self.phone else [])


class CustomerPath(BaseModel):
    """The ``{civ}`` of the path, as the feedback's ``civ`` is checked (1-256 characters)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    civ: Civ
