"""People in the web app (issue 17): the invitation email's link signs in once through its page (a GET
uses nothing, the POST does), asking for a link never tells whether an address has access, a
removed user's session ends, a changed role applies, owners alone manage people and read the
audit log; every POST is CSRF-checked."""

# ruff: noqa: F811 - pytest fixtures imported from tests.webapp_support / tests.people_support
from __future__ import annotations

import re
import time

import pytest

from revisit.domain import users
from tests.people_support import (  # noqa: F401
    emails_to,
    invite_and_sign_in,
    last_token,
    outbox,
    owner_member,
    snapshot,
    use_link,
)
from tests.webapp_support import WebApp, signed_in, webapp  # noqa: F401


def invite_on_the_page(client, email, role, stores=()):
    return client.post_form("/app/people/invite", {"email": email, "role": role, "stores": list(stores)})


def user_id_of(world, email):
    return next(u["userId"] for u in users.list_users(owner_member(world.workspace_id)) if u["email"] == email)


def test_an_invitation_link_signs_in_once_and_only_by_its_button(signed_in, webapp, world, outbox, table):
    r = invite_on_the_page(signed_in, "Ana@Example.com", "manager", [world.store])
    assert r.status_code == 303
    assert r.headers["location"].endswith("/app/people?done=invited")
    assert "ana@example.com" in signed_in.get("/app/people").text
    [mail] = emails_to(outbox, "ana@example.com")
    assert "https://fb.example.com/app/signin#sil_" in mail.body
    token = last_token(outbox, "ana@example.com")

    # A mail scanner (or the reader) opening the page uses nothing: the token is not even sent.
    before = snapshot(table)
    for _ in range(3):
        page = webapp.get("/app/signin")
        assert page.status_code == 200
        assert ">Sign in</button>" in page.text
        assert "signin.js" in page.text
    assert [i for i in snapshot(table) if i["pk"]["S"].startswith("SIGNIN#")] == [
        i for i in before if i["pk"]["S"].startswith("SIGNIN#")
    ]

    r = use_link(webapp, token)
    assert r.status_code == 303
    assert r.headers["location"].endswith("/app")
    assert "revisit_session=" in r.headers.get("set-cookie", "")
    home = webapp.get(f"/app/setup/stores/{world.store}")
    assert home.status_code == 200
    assert "ana@example.com" in home.text  # the header names who is signed in

    with WebApp() as someone_else:
        again = use_link(someone_else, token)
        assert again.status_code == 410
        assert "used already or has expired" in again.text
        assert someone_else.get("/app/setup").status_code == 303  # not signed in


def test_an_expired_or_made_up_link_is_410_and_signs_nobody_in(webapp, world, outbox, monkeypatch):
    users.invite(owner_member(world.workspace_id), "bo@example.com", "viewer", None, "https://fb.example.com")
    token = last_token(outbox, "bo@example.com")
    later = users.now() + users.LINK_LIFETIME + users.timedelta(seconds=1)
    monkeypatch.setattr(users, "now", lambda: later)
    assert use_link(webapp, token).status_code == 410
    assert use_link(webapp, "sil_" + "A" * 43).status_code == 410
    assert use_link(webapp, "").status_code == 410
    assert webapp.get("/app/setup").status_code == 303


def test_the_sign_in_post_needs_its_csrf_token(webapp, world, outbox, table):
    users.invite(owner_member(world.workspace_id), "cy@example.com", "viewer", None, "https://fb.example.com")
    token = last_token(outbox, "cy@example.com")
    webapp.get("/app/signin")
    before = snapshot(table)
    assert webapp.post("/app/signin", data={"token": token}).status_code == 403
    assert snapshot(table) == before
    assert use_link(webapp, token).status_code == 303  # the link still works once


def test_asking_for_a_link_never_tells_whether_the_address_has_access(webapp, world, outbox, monkeypatch):
    users.invite(owner_member(world.workspace_id), "dee@example.com", "viewer", None, "https://fb.example.com")
    outbox.sent_messages.clear()

    def ask(email):
        page = webapp.get("/app/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        return webapp.post("/app/login/email", data={"csrf_token": token, "email": email})

    from webapp.pages import signin

    monkeypatch.setattr(signin, "ANSWER_FLOOR_SECONDS", 0.3)
    timings = {}
    for address in ("dee@example.com", "nobody@example.com"):
        started = time.monotonic()
        timings[address] = ask(address)
        timings[address].elapsed_s = time.monotonic() - started
    known, unknown = timings["dee@example.com"], timings["nobody@example.com"]
    assert known.status_code == unknown.status_code == 200
    assert known.elapsed_s >= 0.3 and unknown.elapsed_s >= 0.3  # the same floor: timing tells nothing
    monkeypatch.setattr(signin, "ANSWER_FLOOR_SECONDS", 0.0)
    notice = re.compile(r'<p class="notice" role="status" id="email-notice">([^<]+)</p>')
    assert notice.search(known.text).group(1) == notice.search(unknown.text).group(1)
    assert len(emails_to(outbox, "dee@example.com")) == 1
    assert emails_to(outbox, "nobody@example.com") == []
    # The link from the sign-in page's email works like an invitation's.
    with WebApp() as dee:
        assert use_link(dee, last_token(outbox, "dee@example.com")).status_code == 303

    bad = ask("not an address")
    assert bad.status_code == 400
    assert 'aria-describedby="email-error"' in bad.text
    for address in ("dee@example.com", "nobody@example.com"):  # the quota is the same for both
        for _ in range(users.LINK_REQUESTS_PER_HOUR - 1):
            assert ask(address).status_code == 200
        refused = ask(address)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0


def test_a_removed_users_session_ends(signed_in, world, outbox):
    with invite_and_sign_in(outbox, world, "fay@example.com", "manager", [world.store]) as fay:
        assert fay.get(f"/app/setup/stores/{world.store}").status_code == 200
        r = signed_in.post_form(f"/app/people/{user_id_of(world, 'fay@example.com')}/remove", {}, page="/app/people")
        assert r.status_code == 303
        assert r.headers["location"].endswith("done=removed")
        gone = fay.get(f"/app/setup/stores/{world.store}")
        assert gone.status_code == 303
        assert "/app/login" in gone.headers["location"]
        assert "expired=1" in gone.headers["location"]
    assert users.audit_page(owner_member(world.workspace_id))["items"][0]["action"] == "user.removed"


def test_a_changed_role_applies_to_the_open_session(signed_in, world, outbox):
    store_page = f"/app/setup/stores/{world.store}"
    form = {"name": "By Hal", "timezone": "UTC", "locale": "en"}
    with invite_and_sign_in(outbox, world, "hal@example.com", "viewer") as hal:
        assert hal.post_form(store_page, form).status_code == 403
        hal_id = user_id_of(world, "hal@example.com")
        r = signed_in.post_form(
            f"/app/people/{hal_id}/role", {"role": "manager", "stores": [world.store]}, page="/app/people"
        )
        assert r.status_code == 303
        assert hal.post_form(store_page, form).status_code == 303
        assert hal.get(f"/app/setup/stores/{world.other_store}").status_code == 404
        bad = signed_in.post_form(f"/app/people/{hal_id}/role", {"role": "manager"}, page="/app/people")
        assert bad.status_code == 400
        assert "a manager needs at least one store" in bad.text


def test_only_owners_manage_people_and_read_the_audit_log(world, outbox, table):
    with invite_and_sign_in(outbox, world, "kim@example.com", "manager", [world.store]) as kim:
        for path in ("/app/people", "/app/audit"):
            r = kim.get(path)
            assert r.status_code == 403
            assert "Not allowed for your role" in r.text
        token = kim.csrf()
        kim_id = user_id_of(world, "kim@example.com")
        before = snapshot(table)
        for path, form in (
            ("/app/people/invite", {"email": "x@example.com", "role": "owner"}),
            (f"/app/people/{kim_id}/role", {"role": "owner"}),
            (f"/app/people/{kim_id}/link", {}),
            (f"/app/people/{kim_id}/remove", {}),
        ):
            assert kim.post_form(path, form, csrf=token).status_code == 403, path
        assert snapshot(table) == before
        assert "People" not in re.sub(r"<main.*", "", kim.get("/app/setup").text, flags=re.S)  # not in the header


def test_people_posts_need_the_csrf_token(signed_in, world, outbox, table):
    users.invite(owner_member(world.workspace_id), "lu@example.com", "viewer", None, "https://fb.example.com")
    lu = user_id_of(world, "lu@example.com")
    before = snapshot(table)
    for path, form in (
        ("/app/people/invite", {"email": "x@example.com", "role": "owner"}),
        (f"/app/people/{lu}/role", {"role": "owner"}),
        (f"/app/people/{lu}/link", {}),
        (f"/app/people/{lu}/remove", {}),
    ):
        assert signed_in.post_form(path, form, csrf=None).status_code == 403, path
        assert signed_in.post_form(path, form, csrf="forged").status_code == 403, path
    assert snapshot(table) == before


def test_an_owner_cannot_remove_themselves_on_the_page(world, outbox):
    with invite_and_sign_in(outbox, world, "max@example.com", "owner") as maxi:
        me = user_id_of(world, "max@example.com")
        page = maxi.get("/app/people")
        assert "This is you" in page.text
        assert maxi.post_form(f"/app/people/{me}/remove", {}, page="/app/people").status_code == 403
        assert maxi.get("/app/people").status_code == 200


def test_invitations_with_bad_input_are_400_beside_the_field(signed_in, world, outbox, table):
    token = signed_in.csrf("/app/people")
    before = snapshot(table)
    r = signed_in.post_form("/app/people/invite", {"email": "nope", "role": "viewer"}, csrf=token)
    assert r.status_code == 400
    assert 'id="invite-email-error"' in r.text
    assert 'aria-invalid="true"' in r.text
    r = signed_in.post_form("/app/people/invite", {"email": "a@example.com", "role": "manager"}, csrf=token)
    assert r.status_code == 400
    assert 'id="invite-stores-error"' in r.text
    assert snapshot(table) == before
    assert outbox.sent_messages == []
    assert invite_on_the_page(signed_in, "a@example.com", "viewer").status_code == 303
    twice = invite_on_the_page(signed_in, "A@example.com", "owner")
    assert twice.status_code == 409
    assert "is a user already" in twice.text


def test_the_audit_log_page_is_newest_first_and_paged(signed_in, world):
    ws = world.workspace_id
    for n in range(53):
        users.audit(ws, "someone@example.com", "store.updated", world.store, {"name": f"Name {n}"})
    first = signed_in.get("/app/audit")
    assert first.status_code == 200
    assert first.text.index("Name 52") < first.text.index("Name 51")
    assert "Name 2;" not in first.text and "Name 2<" not in first.text
    older = re.search(r'href="([^"]*/app/audit\?cursor=[^"]+)"', first.text).group(1)
    second = signed_in.get(older.replace("&amp;", "&"))
    assert second.status_code == 200
    assert "Name 0" in second.text and "Name 52" not in second.text
    assert "Older entries" not in second.text
    assert signed_in.get("/app/audit?cursor=garbage").status_code == 200  # a bad cursor: the newest page


@pytest.mark.parametrize("path", ["/app/people", "/app/audit", "/app/signin"])
def test_the_pages_carry_no_inline_script_or_style(signed_in, path):
    text = signed_in.get(path).text
    assert "<script>" not in text and "style=" not in text and "<style" not in text


def test_an_invitation_whose_email_fails_says_so_and_a_new_link_can_be_sent(signed_in, world, outbox, monkeypatch):
    from revisit.delivery import Delivery

    class Down:
        def send(self, message):
            return Delivery(False, error="MessageRejected")

    monkeypatch.setattr(users, "_default_mailer", Down)
    r = invite_on_the_page(signed_in, "nia@example.com", "viewer")
    assert r.status_code == 303
    assert r.headers["location"].endswith("done=invited-unsent")
    assert "the email could not be sent" in signed_in.get(r.headers["location"]).text
    monkeypatch.undo()
    outbox.sent_messages.clear()
    r = signed_in.post_form(f"/app/people/{user_id_of(world, 'nia@example.com')}/link", {}, page="/app/people")
    assert r.headers["location"].endswith("done=link")
    with WebApp() as nia:
        assert use_link(nia, last_token(outbox, "nia@example.com")).status_code == 303


def test_every_post_of_the_people_pages_is_in_the_csrf_tests():
    from webapp.pages import people

    covered = ["/app/people/invite", "/app/people/usr_x/role", "/app/people/usr_x/link", "/app/people/usr_x/remove"]
    for route in people.routes:
        if "POST" in (route.methods or ()):
            assert any(route.path_regex.match(p) for p in covered), route.path


def test_email_me_a_link_needs_the_csrf_token(webapp, world, outbox, table):
    users.invite(owner_member(world.workspace_id), "oz@example.com", "viewer", None, "https://fb.example.com")
    outbox.sent_messages.clear()
    webapp.get("/app/login")
    before = snapshot(table)
    assert webapp.post("/app/login/email", data={"email": "oz@example.com"}).status_code == 403
    assert webapp.post("/app/login/email", data={"email": "oz@example.com", "csrf_token": "x"}).status_code == 403
    assert snapshot(table) == before  # no link, no quota counted
    assert outbox.sent_messages == []
