"""People, not shared secrets (issue 17): invitations, single-use sign-in links, roles, sessions that
follow the user, the per-address link quota and the audit log (revisit.domain.users)."""

from __future__ import annotations

import re
from datetime import timedelta

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses import ses_backends

from revisit.domain import users, workspaces
from revisit.domain.auth import Kind, Principal
from revisit.errors import Conflict, Forbidden, NotFound, ValidationFailed

BASE = "https://fb.example.com"
LINK_RE = re.compile(r"(https://fb\.example\.com/app/signin#(sil_[A-Za-z0-9]+))")


@pytest.fixture(autouse=True)
def outbox(monkeypatch):
    ses = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    ses.sent_messages.clear()
    boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress="surveys@example.com")
    users.clear_cache()
    return ses


def emails_to(outbox, address):
    return [m for m in outbox.sent_messages if address in m.destinations.get("ToAddresses", [])]


def last_link(outbox, address):
    """The token of the newest email to ``address`` (as the local stack's outbox shows it)."""
    found = emails_to(outbox, address)
    assert found, f"no email to {address}"
    match = LINK_RE.search(found[-1].body)
    assert match, found[-1].body
    return match.group(2)


@pytest.fixture
def owner(world):
    return users.member_of_principal(Principal(world.workspace_id, Kind.OWNER, "workspace", None, "key_owner"))


def test_invite_emails_a_link_that_signs_in_once(world, owner, outbox, table):
    invited = users.invite(owner, " Ana@Example.com ", "manager", [world.store], BASE)
    assert invited["email"] == "ana@example.com"
    assert invited["status"] == "invited"
    assert invited["emailSent"] is True
    [mail] = emails_to(outbox, "ana@example.com")
    assert "Revisit workspace 1042 as manager" in mail.body
    token = last_link(outbox, "ana@example.com")
    # Only the token's hash is stored: its text appears in no item.
    items = table.scan(TableName="revisit-unit")["Items"]
    assert token not in repr(items)

    member = users.sign_in(token)
    assert (member.workspace_id, member.role, member.stores, member.email) == (
        world.workspace_id,
        users.Role.MANAGER,
        frozenset({world.store}),
        "ana@example.com",
    )
    with pytest.raises(users.LinkInvalid):
        users.sign_in(token)  # the second use fails
    [ana] = users.list_users(owner)
    assert ana["status"] == "active"
    assert ana["lastSignInAt"]


def test_an_expired_link_fails(world, owner, outbox, monkeypatch):
    users.invite(owner, "bo@example.com", "viewer", None, BASE)
    token = last_link(outbox, "bo@example.com")
    later = users.now() + users.LINK_LIFETIME + timedelta(seconds=1)
    monkeypatch.setattr(users, "now", lambda: later)
    with pytest.raises(users.LinkInvalid):
        users.sign_in(token)


@pytest.mark.parametrize("token", [None, "", "sil_short", "nk_" + "a" * 43, "sil_" + "a" * 43])
def test_tokens_never_issued_fail(world, token):
    with pytest.raises(users.LinkInvalid):
        users.sign_in(token)


def test_two_links_at_once_each_work_once(world, owner, outbox):
    users.invite(owner, "cy@example.com", "viewer", None, BASE)
    first = last_link(outbox, "cy@example.com")
    users.request_link("cy@example.com", BASE)
    second = last_link(outbox, "cy@example.com")
    assert first != second
    assert users.sign_in(second).email == "cy@example.com"
    assert users.sign_in(first).email == "cy@example.com"
    for token in (first, second):
        with pytest.raises(users.LinkInvalid):
            users.sign_in(token)


def test_request_link_answers_the_same_and_sends_only_to_users(world, owner, outbox):
    users.invite(owner, "dee@example.com", "viewer", None, BASE)
    outbox.sent_messages.clear()
    assert users.request_link("nobody@example.com", BASE) is None
    assert users.request_link("DEE@example.com", BASE) is None
    assert emails_to(outbox, "nobody@example.com") == []
    [mail] = emails_to(outbox, "dee@example.com")
    assert "Workspace 1042: https://fb.example.com/app/signin#sil_" in mail.body


def test_link_requests_are_limited_per_address_per_hour_known_or_not(world, owner, outbox):
    users.invite(owner, "eve@example.com", "viewer", None, BASE)
    for address in ("eve@example.com", "unknown@example.com"):
        for _ in range(users.LINK_REQUESTS_PER_HOUR):
            users.request_link(address, BASE)
        with pytest.raises(users.TooManyRequests) as refused:
            users.request_link(address, BASE)
        assert 0 < refused.value.retry_after <= 3600
    assert len(emails_to(outbox, "eve@example.com")) == 1 + users.LINK_REQUESTS_PER_HOUR


def test_a_removed_users_session_ends_and_links_stop(world, owner, outbox, monkeypatch):
    users.invite(owner, "fay@example.com", "manager", [world.store], BASE)
    member = users.sign_in(last_link(outbox, "fay@example.com"))
    users.request_link("fay@example.com", BASE)
    unused = last_link(outbox, "fay@example.com")
    assert users.resolve_session(world.workspace_id, member.user_id) == member

    users.remove_user(owner, member.user_id)
    assert users.resolve_session(world.workspace_id, member.user_id) is None
    with pytest.raises(users.LinkInvalid):
        users.sign_in(unused)
    assert users.list_users(owner) == []
    # The address may be invited again: a new user, whose id no old session carries.
    again = users.invite(owner, "fay@example.com", "viewer", None, BASE)
    assert again["userId"] != member.user_id
    assert users.resolve_session(world.workspace_id, member.user_id) is None


def test_another_containers_cached_session_ends_within_the_bound(world, owner, outbox, monkeypatch):
    users.invite(owner, "gus@example.com", "manager", [world.store], BASE)
    member = users.sign_in(last_link(outbox, "gus@example.com"))
    clock = [1000.0]
    monkeypatch.setattr(users, "_clock", lambda: clock[0])
    monkeypatch.setattr(users, "recheck_seconds", lambda: users.SESSION_RECHECK_SECONDS)  # the tests' cache is 0 s
    assert users.resolve_session(world.workspace_id, member.user_id) == member
    # Removed through another container: this one's cache does not know.
    from revisit.dal import users as dal

    dal.delete_user(world.workspace_id, member.user_id, users._email_hash("gus@example.com"))
    clock[0] += users.SESSION_RECHECK_SECONDS - 0.1
    assert users.resolve_session(world.workspace_id, member.user_id) == member
    clock[0] += 0.2
    assert users.resolve_session(world.workspace_id, member.user_id) is None


def test_a_role_change_applies_to_the_session(world, owner, outbox):
    users.invite(owner, "hal@example.com", "viewer", None, BASE)
    member = users.sign_in(last_link(outbox, "hal@example.com"))
    assert not member.can_set_up(world.store)
    users.change_role(owner, member.user_id, "manager", [world.other_store])
    now_member = users.resolve_session(world.workspace_id, member.user_id)
    assert now_member.role is users.Role.MANAGER
    assert now_member.can_set_up(world.other_store)
    assert not now_member.can_see(world.store)


def test_a_manager_sees_only_the_chosen_stores(world, owner, outbox):
    users.invite(owner, "ivy@example.com", "manager", [world.other_store], BASE)
    ivy = users.sign_in(last_link(outbox, "ivy@example.com"))
    assert [s["slug"] for s in users.visible_stores(ivy)] == [world.other_store]
    assert [s["slug"] for s in users.visible_stores(owner)] == sorted([world.store, world.other_store])
    with pytest.raises(NotFound):
        ivy.require_see(world.store)
    with pytest.raises(NotFound):  # another store's setup: 404, as if it did not exist
        ivy.require_set_up(world.store)
    ivy.require_set_up(world.other_store)
    principal = ivy.principal(world.other_store)
    assert (principal.scope, principal.store_slug) == ("store", world.other_store)
    assert workspaces.update_store(principal, world.other_store, {"name": "Renamed"})["name"] == "Renamed"


def test_a_viewer_may_change_nothing(world, owner, outbox, table):
    users.invite(owner, "jo@example.com", "viewer", None, BASE)
    jo = users.sign_in(last_link(outbox, "jo@example.com"))
    before = table.scan(TableName="revisit-unit")["Items"]
    assert [s["slug"] for s in users.visible_stores(jo)] == sorted([world.store, world.other_store])
    with pytest.raises(Forbidden):
        jo.require_set_up(world.store)
    with pytest.raises(Forbidden):
        jo.require_set_up_workspace()
    with pytest.raises(Forbidden):
        users.invite(jo, "x@example.com", "owner", None, BASE)
    with pytest.raises(Forbidden):
        users.list_users(jo)
    with pytest.raises(Forbidden):
        users.remove_user(jo, "usr_x")
    with pytest.raises(Forbidden):
        users.audit_page(jo)
    assert table.scan(TableName="revisit-unit")["Items"] == before


def test_managers_may_not_manage_people(world, owner, outbox):
    users.invite(owner, "kim@example.com", "manager", [world.store], BASE)
    kim = users.sign_in(last_link(outbox, "kim@example.com"))
    for attempt in (
        lambda: users.invite(kim, "x@example.com", "viewer", None, BASE),
        lambda: users.change_role(kim, kim.user_id, "owner"),
        lambda: users.audit_page(kim),
    ):
        with pytest.raises(Forbidden):
            attempt()
    kim.require_set_up(world.store)
    with pytest.raises(Forbidden):  # webhooks span the workspace
        kim.require_set_up_workspace()


@pytest.mark.parametrize(
    ("email", "role", "stores", "field"),
    [
        ("not-an-address", "viewer", None, "email"),
        ("a@b", "viewer", None, "email"),
        ("ok@example.com", "admin", None, "role"),
        ("ok@example.com", "manager", [], "stores"),
        ("ok@example.com", "manager", ["no-such-store"], "stores"),
    ],
)
def test_bad_invitations_name_the_field_and_write_nothing(world, owner, outbox, table, email, role, stores, field):
    before = table.scan(TableName="revisit-unit")["Count"]
    with pytest.raises(ValidationFailed) as err:
        users.invite(owner, email, role, stores, BASE)
    assert err.value.details[0]["field"] == field
    assert table.scan(TableName="revisit-unit")["Count"] == before
    assert outbox.sent_messages == []


def test_an_address_is_a_user_once_per_workspace(world, owner, outbox):
    users.invite(owner, "lu@example.com", "viewer", None, BASE)
    with pytest.raises(Conflict) as err:
        users.invite(owner, "LU@example.com", "owner", None, BASE)
    assert err.value.details[0]["field"] == "email"
    # ... but may be a user of another workspace too: one email, a link for each.
    other = users.member_of_principal(Principal(world.foreign_workspace_id, Kind.OWNER, "workspace", None, "k"))
    users.invite(other, "lu@example.com", "viewer", None, BASE)
    outbox.sent_messages.clear()
    users.request_link("lu@example.com", BASE)
    [mail] = emails_to(outbox, "lu@example.com")
    tokens = [m.group(2) for m in LINK_RE.finditer(mail.body)]
    assert len(tokens) == 2
    assert {users.sign_in(t).workspace_id for t in tokens} == {world.workspace_id, world.foreign_workspace_id}


def test_owners_cannot_remove_or_demote_themselves(world, owner, outbox):
    users.invite(owner, "max@example.com", "owner", None, BASE)
    maxi = users.sign_in(last_link(outbox, "max@example.com"))
    with pytest.raises(Forbidden):
        users.remove_user(maxi, maxi.user_id)
    with pytest.raises(Forbidden):
        users.change_role(maxi, maxi.user_id, "viewer")
    assert users.resolve_session(world.workspace_id, maxi.user_id).is_owner


def test_secret_sessions_map_onto_roles(world):
    ws = world.workspace_id
    assert users.member_of_principal(Principal(ws, Kind.OWNER, "workspace", None, "k1")).is_owner
    wide = users.member_of_principal(Principal(ws, Kind.API, "workspace", None, "k2"))
    assert (wide.role, wide.stores, wide.can_set_up_workspace()) == (users.Role.MANAGER, None, True)
    narrow = users.member_of_principal(Principal(ws, Kind.API, "store", world.store, "k3"))
    assert narrow.stores == frozenset({world.store})
    assert narrow.actor == "API key k3"
    with pytest.raises(Forbidden):
        users.member_of_principal(Principal(ws, Kind.PARTNER, "store", world.store, "k4"))


def test_the_audit_log_records_who_what_when_newest_first_in_pages(world, owner, outbox):
    users.invite(owner, "ned@example.com", "viewer", None, BASE)
    ned = users.sign_in(last_link(outbox, "ned@example.com"))
    users.change_role(owner, ned.user_id, "manager", [world.store])
    for n in range(5):
        users.audit(world.workspace_id, owner.actor, "store.updated", world.store, {"name": f"N{n}", "secret": "x"})
    users.remove_user(owner, ned.user_id)

    seen, cursor = [], None
    while True:
        page = users.audit_page(owner, limit=3, cursor=cursor)
        seen += page["items"]
        cursor = page["nextCursor"]
        if not cursor:
            break
    actions = [e["action"] for e in seen]
    assert actions == [
        "user.removed", *["store.updated"] * 5, "user.role_changed", "user.signed_in", "user.invited",
    ]  # fmt: skip
    assert [e["at"] for e in seen] == sorted((e["at"] for e in seen), reverse=True)
    assert seen[1]["details"] == {"name": "N4", "secret": "(not recorded)"}
    assert seen[0]["actor"] == "owner token key_owner"
    assert seen[-2]["actor"] == "ned@example.com"
    assert seen[-3]["details"] == {
        "from": {"role": "viewer", "stores": []},
        "to": {"role": "manager", "stores": [world.store]},
    }
    with pytest.raises(ValidationFailed):
        users.audit_page(owner, cursor="bm9wZQ")
    foreign = users.member_of_principal(Principal(world.foreign_workspace_id, Kind.OWNER, "workspace", None, "k"))
    assert users.audit_page(foreign)["items"] == []


def test_a_sign_in_token_never_reaches_a_log_line():
    from revisit.observability import redact

    token = "sil_" + "Ab1" * 14 + "x"
    assert redact(f"POST /app/signin token={token}") == "POST /app/signin token=sil_…"


def test_the_web_app_function_may_do_what_signing_in_by_email_needs():
    """Least privilege, but enough: the keyed hashes' secret, SES from the sender, the link's delete."""
    from revisit_dev.template import load_template

    policies = load_template().resources["WebAppFunction"]["Properties"]["Policies"]
    statements = [s for p in policies for s in p.get("Statement", [])]

    def resources_of(action):
        return [repr(s["Resource"]) for s in statements if action in s["Action"]]

    assert any("HashingSecret" in r for r in resources_of("secretsmanager:GetSecretValue"))
    assert resources_of("ses:SendEmail")
    assert any("Table" in r for r in resources_of("dynamodb:DeleteItem"))
