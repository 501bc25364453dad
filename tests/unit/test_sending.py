"""Scheduled sending and resends over a simulated clock, checked in moto's SES/SNS backends (seed 001)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses import ses_backends
from moto.sns import sns_backends

from revisit.delivery import Delivery, default_adapters
from tests.support import api_event, invoke
from tests.unit.test_trackers import generate, list_, owner, partner_headers, purchase

T = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def outboxes(monkeypatch):
    global T  # noqa: PLW0603 - each test's clock starts at its own "now" (trackers are created at real now)
    T = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    ses = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    sns = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    ses.sent_messages.clear()
    sns.sms_messages.clear()
    boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress="surveys@example.com")
    monkeypatch.setenv("EMAIL_SENDER", "surveys@example.com")
    return ses, sns


def run(at: datetime, adapters=None, **policy):
    from revisit.domain import sending

    return sending.run(at, adapters or default_adapters(), sending.Policy(quiet_start=0, quiet_end=0, **policy))


def survey(world, **fields):
    body = {
        "storeSlug": "downtown-coffee",
        "name": "After your visit",
        "sendingType": "email",
        "delayMinutes": 0,
        **fields,
    }
    reply = owner(world, "POST", "/api/surveys", body)
    assert reply.status == 201, reply.text
    return reply.json


def tracker_state(world, tracker_id):
    return invoke(
        "tracker_get",
        api_event("GET", "/partners/survey-tracker", query={"id": tracker_id}, headers=partner_headers(world)),
    ).json


def one_tracker(world, purchase_id="P-1", **purchase_fields):
    """The purchase's one tracker: recording the purchase makes those we send (part 5), generate
    the external ones."""
    assert purchase(world, purchase_id, **purchase_fields).status in (200, 201)
    generate(world, purchase_id)
    [tracker] = list_(world, {"purchases": [purchase_id]}).json["items"]
    return tracker


def test_email_send_and_resends_follow_the_state_machine(world, outboxes):
    ses, _ = outboxes
    survey(world, resendDelayMinutes=1440, maxResends=2, newReviewLink="https://g.page/r/x/review")
    tracker = one_tracker(world)
    assert tracker["status"] == "scheduled" and tracker["link"] is None

    report = run(T + timedelta(seconds=5))
    assert report.sent == 1
    [message] = ses.sent_messages
    assert message.destinations["ToAddresses"] == ["ann@example.com"]
    state = tracker_state(world, tracker["id"])
    assert state["link"] and state["link"] in message.body
    assert "/u/tkn_" in message.body and "https://g.page/r/x/review" in message.body
    assert state["status"] == "sent" and state["sentTo"] == "ann@example.com"
    assert state["sendingIndex"] == 0 and state["resent"] is False
    first_sent = datetime.fromisoformat(state["sentAt"].replace("Z", "+00:00"))
    assert datetime.fromisoformat(state["resendAt"].replace("Z", "+00:00")) == first_sent + timedelta(minutes=1440)

    assert run(T + timedelta(hours=2)).sent == 0  # nothing due before resendAt
    assert run(T + timedelta(minutes=1441)).sent == 1
    state = tracker_state(world, tracker["id"])
    assert state["sendingIndex"] == 1 and state["resent"] is True and state["resendAt"]
    assert run(T + timedelta(minutes=2 * 1440 + 2)).sent == 1
    state = tracker_state(world, tracker["id"])
    assert state["sendingIndex"] == 2 and state["resendAt"] is None  # maximum reached
    assert run(T + timedelta(days=10)).due == 0
    assert len(ses.sent_messages) == 3


def test_completion_stops_resends(world, outboxes):
    ses, _ = outboxes
    survey(world, resendDelayMinutes=60, maxResends=3)
    tracker = one_tracker(world)
    run(T + timedelta(seconds=5))
    token = tracker_state(world, tracker["id"])["link"].rsplit("/", 1)[1]
    assert (
        invoke("submit", api_event("POST", "/api/external/public/submit", body={"token": token, "rating": 5})).status
        == 201
    )
    assert run(T + timedelta(hours=5)).due == 0
    assert tracker_state(world, tracker["id"])["status"] == "completed"
    assert len(ses.sent_messages) == 1


def test_expired_link_stops_sending(world, outboxes):
    survey(world, resendDelayMinutes=60 * 24 * 3, maxResends=2, linkValidDays=2)
    tracker = one_tracker(world)
    run(T + timedelta(seconds=5))
    report = run(T + timedelta(days=3, minutes=1))
    assert report.sent == 0 and report.finished == 1
    assert tracker_state(world, tracker["id"])["status"] == "expired"


def test_external_trackers_are_never_sent(world, outboxes):
    ses, sns = outboxes
    survey(world, sendingType="external")
    one_tracker(world)
    assert run(T + timedelta(days=1)).due == 0
    assert ses.sent_messages == [] and not sns.sms_messages


def test_unsubscribe_link_cancels_further_sends(world, outboxes):
    ses, _ = outboxes
    survey(world, resendDelayMinutes=60, maxResends=2)
    tracker = one_tracker(world)
    run(T + timedelta(seconds=5))
    token = tracker_state(world, tracker["id"])["link"].rsplit("/", 1)[1]
    page = invoke("survey_page", api_event("GET", f"/u/{token}", resource="/u/{token}", path_params={"token": token}))
    assert page.status == 200 and "Unsubscribe" in page.text
    done = invoke("survey_page", api_event("POST", f"/u/{token}", resource="/u/{token}", path_params={"token": token}))
    assert done.status == 200
    report = run(T + timedelta(minutes=61))
    assert report.sent == 0 and report.finished == 1
    assert tracker_state(world, tracker["id"])["status"] == "cancelled"  # delivered once, no resends
    assert len(ses.sent_messages) == 1
    # A new purchase of the same customer at this store is not sent either.
    later = one_tracker(world, "P-2")
    run(T + timedelta(minutes=62))
    assert tracker_state(world, later["id"])["status"] == "cancelled"


def test_partner_unsubscribe_sync(world, outboxes):
    survey(world)
    tracker = one_tracker(world)
    reply = invoke(
        "purchases",
        api_event("POST", "/partners/unsubscribes", body={"email": "ANN@example.com"}, headers=partner_headers(world)),
    )
    assert reply.status == 201
    run(T + timedelta(seconds=5))
    assert tracker_state(world, tracker["id"])["status"] == "cancelled"
    bad = invoke("purchases", api_event("POST", "/partners/unsubscribes", body={}, headers=partner_headers(world)))
    assert bad.status == 400


class Failing:
    def __init__(self):
        self.calls = 0

    def send(self, message):
        self.calls += 1
        return Delivery(False, error="provider down")


def test_whatsapp_falls_back_to_sms_after_two_failures(world, outboxes):
    _, sns = outboxes
    survey(world, sendingType="whatsapp")
    tracker = one_tracker(world, whatsapp="+33612345678")
    whatsapp = Failing()
    adapters = {**default_adapters(), "whatsapp": whatsapp}
    run(T + timedelta(seconds=5), adapters)
    assert tracker_state(world, tracker["id"])["switchedToSms"] is False
    run(T + timedelta(minutes=6), adapters)  # the retry after the 5-minute back-off
    state = tracker_state(world, tracker["id"])
    assert whatsapp.calls == 2 and state["switchedToSms"] is True and state["status"] == "scheduled"
    run(T + timedelta(minutes=7), adapters)
    state = tracker_state(world, tracker["id"])
    assert state["status"] == "sent" and state["sentTo"] == "+33612345678"
    [(phone, text)] = list(sns.sms_messages.values())
    assert phone == "+33612345678" and state["link"] in text


def test_failing_email_gives_up_after_max_attempts(world):
    survey(world)
    tracker = one_tracker(world)
    adapters = {**default_adapters(), "email": Failing()}
    at = T + timedelta(seconds=5)
    for _ in range(4):
        run(at, adapters)
        at += timedelta(hours=1)
    assert tracker_state(world, tracker["id"])["status"] == "failed"
    assert adapters["email"].calls == 4
    assert run(at + timedelta(days=1), adapters).due == 0


def test_no_contact_fails_at_once(world):
    survey(world, sendingType="sms")
    tracker = one_tracker(world)  # the purchase has an email only
    run(T + timedelta(seconds=5))
    assert tracker_state(world, tracker["id"])["status"] == "failed"


def test_quiet_hours_in_the_store_time_zone(world, outboxes):
    from revisit.domain import sending

    _, sns = outboxes
    survey(world, sendingType="sms")
    tracker = one_tracker(world, phone="+33612345678")
    paris_3am = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 03:00 in Paris (UTC+1)
    paris_3am = max(paris_3am, T + timedelta(days=2)).replace(hour=2, minute=0, second=0)
    policy = sending.Policy()  # 21-8 local
    report = sending.run(paris_3am, default_adapters(), policy)
    assert report.deferred == 1 and not sns.sms_messages
    assert sending.run(paris_3am + timedelta(hours=4, minutes=59), default_adapters(), policy).due == 0
    report = sending.run(paris_3am + timedelta(hours=5), default_adapters(), policy)  # 08:00 in Paris
    assert report.sent == 1 and len(sns.sms_messages) == 1
    assert tracker_state(world, tracker["id"])["status"] == "sent"


def test_quiet_hours_window():
    from revisit.domain.sending import Policy, quiet_until

    policy = Policy()
    night = datetime(2026, 6, 1, 23, 30, tzinfo=UTC)  # 01:30 in Paris (summer, UTC+2)
    assert quiet_until(night, "Europe/Paris", policy) == datetime(2026, 6, 2, 6, 0, tzinfo=UTC)
    assert quiet_until(datetime(2026, 6, 1, 10, 0, tzinfo=UTC), "Europe/Paris", policy) is None
    evening = datetime(2026, 6, 1, 19, 30, tzinfo=UTC)  # 21:30 Paris
    assert quiet_until(evening, "Europe/Paris", policy) == datetime(2026, 6, 2, 6, 0, tzinfo=UTC)


class Crash(BaseException):
    """A Lambda dying mid-run (timeout, OOM): not an ordinary exception the code may catch."""


def test_crash_after_claim_is_retried_after_the_lease_and_sent_once(world, outboxes):
    ses, _ = outboxes
    survey(world)
    tracker = one_tracker(world)

    class Crashing:
        def send(self, message):
            raise Crash

    with pytest.raises(Crash):
        run(T + timedelta(seconds=5), {**default_adapters(), "email": Crashing()})
    assert run(T + timedelta(minutes=2)).due == 0  # still leased
    assert run(T + timedelta(minutes=6)).sent == 1
    assert run(T + timedelta(minutes=12)).due == 0
    assert len(ses.sent_messages) == 1
    assert tracker_state(world, tracker["id"])["status"] == "sent"


@pytest.fixture
def atomic_moto(monkeypatch):
    """DynamoDB applies each request atomically; moto in-process does not: serialise its requests."""
    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.Lock()
    original = BotocoreStubber.__call__

    def serialised(self, *args, **kwargs):
        with lock:
            return original(self, *args, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", serialised)


def test_two_concurrent_runs_send_each_of_500_trackers_once(world, atomic_moto):
    from revisit.domain import trackers
    from revisit.domain.auth import Kind, Principal

    created = survey(world)
    survey_record = {**created, "workspaceId": "1042"}
    partner = Principal("1042", Kind.PARTNER, "workspace", None, "key_test")
    for i in range(500):
        trackers._create(
            partner,
            survey_record,
            {
                "purchaseId": f"P-{i}",
                "customerId": f"C-{i}",
                "storeSlug": "downtown-coffee",
                "purchasedAt": T.isoformat(),
                "email": f"c{i}@example.com",
            },
            "https://fb.example.com",
        )

    sent: list[str] = []
    sent_lock = threading.Lock()

    class Recording:
        def send(self, message):
            with sent_lock:
                sent.append(message.to)
            return Delivery(True, "id")

    adapters = {"email": Recording()}
    reports = []
    at = datetime.now(UTC) + timedelta(seconds=1)  # every tracker's sendAt has come
    threads = [threading.Thread(target=lambda: reports.append(run(at, adapters))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sent) == 500 and len(set(sent)) == 500
    assert sum(r.sent for r in reports) == 500
    assert sum(r.lost_claims for r in reports) == sum(r.due for r in reports) - 500
    assert run(at + timedelta(minutes=30), adapters).due == 0
