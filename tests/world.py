"""A workspace with stores and every kind of credential, made through the domain services."""

from __future__ import annotations

from dataclasses import dataclass

from revisit.domain import credentials, workspaces
from revisit.domain.auth import Kind


@dataclass
class World:
    workspace_id: str
    store: str
    other_store: str
    owner_token: str
    workspace_key: str
    store_key: str
    other_store_key: str
    partner_key: str
    partner_secret: str
    shop_id: str
    shop_secret: str
    foreign_workspace_id: str
    foreign_owner_token: str
    foreign_key: str

    def owner_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.owner_token}", "x-workspace-id": self.workspace_id}


def build_world(workspace_id: str = "1042", store: str = "downtown-coffee") -> World:
    workspaces.ensure_workspace(workspace_id)
    shop = workspaces.create_store(workspace_id, store, "Downtown Coffee", "Europe/Paris")
    workspaces.create_store(workspace_id, "uptown-bakery", "Uptown Bakery")
    workspaces.ensure_workspace("2000")
    workspaces.create_store("2000", store, "Someone else's Downtown Coffee")
    partner = credentials.issue(workspace_id, Kind.PARTNER, "store", store)
    shop_cred = credentials.issue(workspace_id, Kind.SHOP, "store", store, shop_id=shop["shopId"])
    return World(
        workspace_id=workspace_id,
        store=store,
        other_store="uptown-bakery",
        owner_token=credentials.issue(workspace_id, Kind.OWNER, "workspace")["token"],
        workspace_key=credentials.issue(workspace_id, Kind.API, "workspace")["key"],
        store_key=credentials.issue(workspace_id, Kind.API, "store", store)["key"],
        other_store_key=credentials.issue(workspace_id, Kind.API, "store", "uptown-bakery")["key"],
        partner_key=partner["apiKey"],
        partner_secret=partner["apiSecret"],
        shop_id=shop_cred["shopId"],
        shop_secret=shop_cred["shopSecret"],
        foreign_workspace_id="2000",
        foreign_owner_token=credentials.issue("2000", Kind.OWNER, "workspace")["token"],
        foreign_key=credentials.issue("2000", Kind.API, "workspace")["key"],
    )
