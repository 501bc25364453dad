"""Helpers of the people and setup page tests (H6): the SES outbox moto keeps, sign-in links read
from it, and clients signed in as an invited user through the link's page - as a browser does."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses import ses_backends

from revisit.domain import users
from revisit.domain.auth import Kind, Principal
from tests.webapp_support import WebApp, csrf_of

LINK_RE = re.compile(r"(https?://[^\s#]+/app/signin#(sil_[A-Za-z0-9]{43}))")


@pytest.fixture
def outbox():
    ses = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    ses.sent_messages.clear()
    boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress="surveys@example.com")
    users.clear_cache()
    return ses


def emails_to(outbox, address: str) -> list[Any]:
    return [m for m in outbox.sent_messages if address in m.destinations.get("ToAddresses", [])]


def last_token(outbox, address: str) -> str:
    found = emails_to(outbox, address)
    assert found, f"no email to {address}"
    match = LINK_RE.search(found[-1].body)
    assert match, found[-1].body
    return match.group(2)


def owner_member(workspace_id: str) -> users.Member:
    return users.member_of_principal(Principal(workspace_id, Kind.OWNER, "workspace", None, "key_test_owner"))


def use_link(client: WebApp, token: str) -> Any:
    """Open the link's page (which uses nothing), then press its Sign in button."""
    page = client.get("/app/signin")
    assert page.status_code == 200, page.text
    return client.post("/app/signin", data={"csrf_token": csrf_of(page.text) or "", "token": token})


def invite_and_sign_in(outbox, world, email: str, role: str, stores: list[str] | None = None) -> WebApp:
    """A client signed in as a new user of the world's workspace (close it when done)."""
    users.invite(owner_member(world.workspace_id), email, role, stores, "https://fb.example.com")
    client = WebApp()
    client.__enter__()
    answer = use_link(client, last_token(outbox, email))
    assert answer.status_code == 303, answer.text
    return client


def snapshot(table) -> list[dict[str, Any]]:
    """Every item of the table, in key order (to show that nothing changed)."""
    items = table.scan(TableName="revisit-unit", ConsistentRead=True)["Items"]
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))
