"""Alert emails (docs/alerts.md): store settings, low-rating and dissatisfied alerts from the
stream (once, however often a record or message comes back), the weekly digest (the dashboard's
own numbers, once a week, one bad store or address never stopping the others), unsubscribe, and
the texts in the store's language from the catalogs (checked against the .po files read with
Babel, and the number and date formats against Babel's own)."""

from __future__ import annotations

import copy
import email
import json
import uuid
from datetime import UTC, date, datetime, time
from email import policy
from pathlib import Path
from typing import Any

import boto3
import pytest
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.pofile import read_po

from revisit_dev.resources import outbox
from revisit_dev.streams import matches_filters
from revisit_dev.template import load_template
from tests.analytics_support import STREAM_EVENT, deliver
from tests.support import ROOT, Context, api_event, function, invoke

INTEGRATION = next(f for f in load_template().functions if f.logical_id == "IntegrationEventsFunction")
SENDER = "surveys@example.com"
WEEK_AFTER = datetime(2026, 3, 9, 6, 0, tzinfo=UTC)  # a Monday: the week of 2026-03-02..08 is complete


# ------------------------------------------------------------------ helpers


@pytest.fixture(autouse=True)
def ses_and_queue(monkeypatch):
    """SES with the verified sender, the alert queue, fresh settings and clients."""
    from revisit import alert_mail
    from revisit.config import settings

    boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress=SENDER)
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName=f"alerts-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    monkeypatch.setenv("ALERT_QUEUE_URL", url)
    settings.cache_clear()
    alert_mail._client.cache_clear()
    yield url
    settings.cache_clear()
    alert_mail._client.cache_clear()


def queued(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        for m in got:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def sent_to(address: str | None = None) -> list[dict[str, Any]]:
    mails = [m for m in outbox("us-east-1")["emails"] if "headers" in m]  # SendRawEmail only
    return [m for m in mails if address is None or address in m["to"]]


def raw_messages() -> list[email.message.EmailMessage]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses import ses_backends

    backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    return [email.message_from_string(m.raw_data, policy=policy.default) for m in backend.sent_messages
            if hasattr(m, "raw_data")]  # fmt: skip


@pytest.fixture(autouse=True)
def clean_outbox():
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses import ses_backends

    ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages.clear()
    yield


def patch_store(world, changes: dict[str, Any], store: str | None = None, headers=None):
    slug = store or world.store
    event = api_event("PATCH", f"/api/stores/{slug}", resource="/api/stores/{storeSlug}", body=changes,
                      headers=headers or world.owner_headers(), path_params={"storeSlug": slug})  # fmt: skip
    return invoke("management", event)


def get_store(world, store: str | None = None):
    slug = store or world.store
    event = api_event("GET", f"/api/stores/{slug}", resource="/api/stores/{storeSlug}",
                      headers=world.owner_headers(), path_params={"storeSlug": slug})  # fmt: skip
    return invoke("management", event)


def put_answer(world, rating: int, at: str = "2026-03-03T09:00:00.000Z", *, civ: str | None = None,
               store: str | None = None, comment: str | None = "The coffee was cold", imported: bool = False,
               order: str | None = "A-1001") -> str:  # fmt: skip
    """A feedback record stored as the submit (or, ``imported``, the import) path stores it."""
    from revisit.dal import feedback, table

    fid = str(uuid.uuid4())
    record = {
        "id": fid, "workspaceId": world.workspace_id, "storeSlug": store or world.store, "rating": rating,
        "createdAt": at, "payload": {}, "tokenKind": "one_time",
        **({"civ": civ, "civSource": "token"} if civ else {}), **({"comment": comment} if comment else {}),
        **({"orderId": order} if order else {}), **({"imported": True, "source": "import"} if imported else {}),
    }  # fmt: skip
    table.client.put_item(TableName=table.TABLE, Item=table.serialize(feedback.to_item(record)),
                          ConditionExpression="attribute_not_exists(pk)")  # fmt: skip
    return fid


def integration_events(records: list[dict[str, Any]]) -> dict[str, Any]:
    mine = [r for r in records if matches_filters(INTEGRATION.streams[0].filters, r)]
    return function("integration_events").lambda_handler({"Records": copy.deepcopy(mine)}, Context())


def sqs_event(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"Records": [{"messageId": f"m{i}", "receiptHandle": "r", "body": json.dumps(m), "attributes": {},
                         "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:x:1:q"}
                        for i, m in enumerate(messages)]}  # fmt: skip


def run_alerts(*messages: dict[str, Any]) -> dict[str, Any]:
    return function("alerts").lambda_handler(sqs_event(*messages), Context())


def catalog(language: str) -> dict[str, str]:
    path = ROOT / "layers/revisit/revisit/i18n" / language / "LC_MESSAGES" / "revisit.po"
    with Path(path).open("rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id}


# ------------------------------------------------------------------ settings


def test_settings_defaults_validation_and_the_alert_index(world):
    got = get_store(world).json
    assert (got["alertEmails"], got["alertMaxRating"], got["weeklyDigest"]) == ([], 2, True)  # defaults on read
    for body, field in [
        ({"alertEmails": ["not-an-address"]}, "alertEmails.0"),
        ({"alertEmails": ["ok@example.com", "a b@example.com"]}, "alertEmails.1"),
        ({"alertEmails": [f"m{i}@example.com" for i in range(11)]}, "alertEmails"),
        ({"alertEmails": ["x@example.com", "X@example.com"]}, "alertEmails"),
        ({"alertEmails": "x@example.com"}, "alertEmails"),
        ({"alertMaxRating": 0}, "alertMaxRating"),
        ({"alertMaxRating": 6}, "alertMaxRating"),
        ({"alertMaxRating": "2"}, "alertMaxRating"),
        ({"weeklyDigest": "yes"}, "weeklyDigest"),
    ]:
        r = patch_store(world, body)
        assert r.status == 400, body
        assert r.json["error"]["details"][0]["field"] == field, (body, r.json)
        assert "Value error" not in r.text
    assert get_store(world).json["alertEmails"] == []  # nothing written by a refused PATCH

    from revisit.dal import workspaces as dal

    r = patch_store(world, {"alertEmails": ["boss@example.com"], "alertMaxRating": 3, "weeklyDigest": False})
    assert r.status == 200, r.text
    assert (r.json["alertEmails"], r.json["alertMaxRating"], r.json["weeklyDigest"]) == (["boss@example.com"], 3, False)
    assert [s["slug"] for s in dal.alert_stores()[0]] == [world.store]
    assert patch_store(world, {"alertEmails": []}).json["alertEmails"] == []
    assert dal.alert_stores()[0] == []  # off: out of the index, in the same UpdateItem
    patch_store(world, {"alertEmails": ["boss@example.com"]})
    assert patch_store(world, {"alertEmails": None, "alertMaxRating": None}).json["alertMaxRating"] == 2
    assert dal.alert_stores()[0] == []
    # a store key of another store learns nothing
    other = patch_store(world, {"alertEmails": ["x@example.com"]}, headers={"x-api-key": world.other_store_key})
    assert other.status == 403


# ------------------------------------------------------------------ alerts from the stream


def test_a_low_rating_alerts_once_even_when_the_record_and_the_message_come_back(world, stream, ses_and_queue):
    patch_store(world, {"alertEmails": ["boss@example.com", "shift@example.com"]})
    stream.read_all()  # the store's own change is no event
    fid = put_answer(world, 1)
    records = stream.read_all()
    integration_events(records)
    messages = queued(ses_and_queue)
    assert [(m["kind"], m["data"]["rating"], m["data"]["id"]) for m in messages] == [("low_rating", 1, fid)]
    assert set(messages[0]["data"]) == {"id", "storeSlug", "rating", "comment", "orderId", "createdAt"}
    assert run_alerts(messages[0]) == {"batchItemFailures": []}
    assert len(sent_to("boss@example.com")) == 1 and len(sent_to("shift@example.com")) == 1

    integration_events(records)  # the stream record again (a retried batch) queues it again ...
    again = queued(ses_and_queue)
    assert again == messages
    run_alerts(*again, messages[0])  # ... and the message twice more: no second email
    assert len(sent_to()) == 2

    mail = sent_to("boss@example.com")[0]
    assert mail["subject"] == "Downtown Coffee: an answer rated 1 out of 5"
    assert "The coffee was cold" in mail["body"] and "Order: A-1001" in mail["body"]
    assert f"https://fb.example.com/app/feedback/{fid}" in mail["body"]
    assert "Answered: 3/3/26 10:00\u202fAM" in mail["body"]  # the store's time zone (Europe/Paris)
    unsubscribe = mail["headers"]["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://fb.example.com/alerts/unsubscribe/") and unsubscribe[1:-1] in mail["body"]
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert all(m["Auto-Submitted"] == "auto-generated" for m in raw_messages())


def test_ratings_above_the_threshold_and_imported_rows_never_alert(world, stream, ses_and_queue):
    patch_store(world, {"alertEmails": ["boss@example.com"]})
    put_answer(world, 3)  # default threshold 2
    put_answer(world, 1, imported=True)  # history: no event, no alert
    put_answer(world, 1, store=world.other_store)  # a store without addresses
    integration_events(stream.read_all())
    assert queued(ses_and_queue) == []
    patch_store(world, {"alertMaxRating": 3})
    put_answer(world, 3)
    put_answer(world, 4)
    integration_events(stream.read_all())
    assert [m["data"]["rating"] for m in queued(ses_and_queue)] == [3]


def test_one_dissatisfied_alert_when_a_customer_enters_the_watch_list(world, stream, ses_and_queue):
    patch_store(world, {"alertEmails": ["boss@example.com"], "alertMaxRating": 1})  # low ratings aside
    for i, rating in enumerate([5, 5, 3, 3, 3, 2, 2]):  # enters the list at the 5th visit, stays on it
        put_answer(world, rating, f"2026-03-0{1 + i}T09:00:00.000Z", civ="LOYAL", comment=None)
    records = stream.read_all()
    deliver([r for r in records if matches_filters(STREAM_EVENT.filters, r)])  # the aggregator
    states = stream.read_all()
    integration_events(states)
    messages = queued(ses_and_queue)
    assert [m["kind"] for m in messages] == ["dissatisfied"]
    run_alerts(*messages)
    integration_events(states)  # replayed: queued again, sent once
    run_alerts(*queued(ses_and_queue))
    mails = sent_to("boss@example.com")
    assert len(mails) == 1
    assert mails[0]["subject"] == "Downtown Coffee: a regular customer is growing dissatisfied"
    body = mails[0]["body"]
    assert "Customer LOYAL rates Downtown Coffee lower than before." in body
    assert "5.00 over the earlier visits, 3.00 over the latest (3, 3, 3)" in body
    assert "https://fb.example.com/app/stores/downtown-coffee" in body


# ------------------------------------------------------------------ unsubscribe


def _page(method: str, token: str):
    event = api_event(method, f"/alerts/unsubscribe/{token}", resource="/alerts/unsubscribe/{alertToken}",
                      path_params={"alertToken": token})  # fmt: skip
    if method == "POST":
        event["headers"]["Content-Type"] = "application/x-www-form-urlencoded"
        event["body"] = "List-Unsubscribe=One-Click"
    return invoke("alert_unsubscribe", event)


def test_unsubscribe_confirms_then_stops_later_emails_for_that_address_only(world, stream, ses_and_queue):
    from revisit.domain import alerts

    patch_store(world, {"alertEmails": ["boss@example.com", "shift@example.com"]})
    put_answer(world, 2)
    integration_events(stream.read_all())
    run_alerts(*queued(ses_and_queue))
    link = sent_to("shift@example.com")[0]["headers"]["List-Unsubscribe"][1:-1]
    token = link.rsplit("/", 1)[1]

    page = _page("GET", token)
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert '<form method="post">' in page.text and "<script" not in page.text and 'lang="en"' in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "Downtown Coffee" in page.text
    assert len(sent_to()) == 2  # a GET (a link scanner) changes nothing
    done = _page("POST", token)
    assert done.status == 200 and "Unsubscribed" in done.text
    assert _page("POST", token).status == 200  # idempotent

    for bad in (token[:-1] + ("0" if token[-1] != "0" else "1"), "x.y", "nonsense",
                alerts.unsubscribe_token(world.workspace_id, "no-such-store", "shift@example.com")):  # fmt: skip
        assert _page("GET", bad).status == 404 and _page("POST", bad).status == 404
    # a token is for one store: the other store's alerts still reach this address
    assert alerts.read_token(token)[:2] == (world.workspace_id, world.store)

    put_answer(world, 1)
    integration_events(stream.read_all())
    run_alerts(*queued(ses_and_queue))
    assert len(sent_to("shift@example.com")) == 1 and len(sent_to("boss@example.com")) == 2


# ------------------------------------------------------------------ the weekly digest


def _week_of_answers(world, store: str | None = None) -> None:
    """Answers in the week 2026-03-02..08, one before it and one after it."""
    answers = [("A", "2026-03-02T09:00:00.000Z", 5), ("A", "2026-03-04T09:00:00.000Z", 4),
               ("B", "2026-03-03T12:00:00.000Z", 2), (None, "2026-03-05T12:00:00.000Z", 4),
               ("C", "2026-03-08T20:00:00.000Z", 3), ("A", "2026-03-01T09:00:00.000Z", 1),
               ("B", "2026-03-09T09:00:00.000Z", 5)]  # fmt: skip
    for civ, at, rating in answers:
        put_answer(world, rating, at, civ=civ, store=store, comment=None)


def _aggregate(stream) -> None:
    records = stream.read_all()
    deliver([r for r in records if matches_filters(STREAM_EVENT.filters, r)])


def test_the_digest_has_the_dashboards_numbers_for_the_same_week(world, stream):
    from revisit.domain import alerts

    patch_store(world, {"alertEmails": ["boss@example.com"]})
    _week_of_answers(world)
    # a customer growing dissatisfied within the week
    for i, rating in enumerate([5, 5, 2, 2, 2]):
        put_answer(world, rating, f"2026-03-0{2 + i}T15:00:00.000Z", civ="DRIFT", comment=None)
    _aggregate(stream)

    query = {"from": "2026-03-02", "to": "2026-03-08"}
    headers = {"x-api-key": world.store_key}
    rows = invoke("dashboard", api_event("GET", "/api/external/dashboard/stores", headers=headers, query=query)).json
    board = invoke("dashboard", api_event("GET", "/api/external/dashboard", headers=headers, query=query)).json
    from revisit.domain import workspaces

    store = workspaces.find_store(world.workspace_id, world.store)
    assert alerts.digest_week(store["timezone"], WEEK_AFTER) == (date(2026, 3, 2), date(2026, 3, 8))
    numbers = alerts.summary(store, date(2026, 3, 2), date(2026, 3, 8))
    row = rows["stores"][0]
    for name in ("totalFeedback", "avgRating", "csatPercent", "returnRate", "identifiedCustomers",
                 "returningCustomers"):  # fmt: skip
        assert numbers[name] == row[name], name
    assert numbers["growingDissatisfied"] == board["growingDissatisfied"] and board["growingDissatisfied"]
    assert (numbers["totalFeedback"], numbers["avgRating"]) == (10, 3.4)

    report = alerts.run_digests(at=WEEK_AFTER)
    assert report["sent"] == 1
    mail = sent_to("boss@example.com")[0]
    assert mail["subject"] == "Downtown Coffee: your week from 3/2/26 to 3/8/26"
    body = mail["body"]
    assert "Answers: 10" in body and "Average rating: 3.40 out of 5" in body
    assert f"Satisfied (4 or 5 stars): {row['csatPercent']:g}%" in body
    assert f"Return rate: {row['returnRate']:g}% ({row['returningCustomers']} of {row['identifiedCustomers']}" in body
    assert "Customers growing dissatisfied: 1" in body and "- DRIFT: 5.00 before, 2.00 lately" in body
    assert mail["headers"]["List-Unsubscribe"].startswith("<https://fb.example.com/alerts/unsubscribe/")


def test_the_digest_goes_once_a_week_and_a_failing_store_stops_no_other(world, stream):
    from revisit import alert_mail
    from revisit.delivery import Delivery
    from revisit.domain import alerts

    patch_store(world, {"alertEmails": ["boss@example.com", "bounce@example.com"]})
    patch_store(world, {"alertEmails": ["baker@example.com"], "locale": "de"}, store=world.other_store)
    _week_of_answers(world)
    _week_of_answers(world, world.other_store)
    _aggregate(stream)

    def flaky(to, subject, text, url):
        if to == "bounce@example.com":
            return Delivery(False, error="MessageRejected")
        return alert_mail.send(to, subject, text, url)

    with pytest.raises(alerts.NotSent) as failed:
        alerts.run_digests(sender=flaky, at=WEEK_AFTER)
    assert failed.value.report["failedStores"] == [f"{world.workspace_id}/{world.store}"]
    assert len(sent_to("boss@example.com")) == 1 and len(sent_to("baker@example.com")) == 1
    assert sent_to("bounce@example.com") == []

    report = alerts.run_digests(at=WEEK_AFTER.replace(hour=20))  # the retry: only the missing address
    assert report["sent"] == 1 and len(sent_to("bounce@example.com")) == 1
    assert alerts.run_digests(at=datetime(2026, 3, 12, 6, tzinfo=UTC))["sent"] == 0  # same week: nothing
    assert len(sent_to()) == 3
    next_week = alerts.run_digests(at=datetime(2026, 3, 16, 6, tzinfo=UTC))
    assert next_week["sent"] == 3 and len(sent_to()) == 6

    patch_store(world, {"weeklyDigest": False})
    assert alerts.run_digests(at=datetime(2026, 3, 23, 6, tzinfo=UTC))["sent"] == 1  # the other store only


def test_the_digest_waits_for_the_week_to_end_in_the_stores_time_zone():
    from revisit.domain import alerts

    sunday_evening_utc = datetime(2026, 3, 8, 23, 30, tzinfo=UTC)
    assert alerts.digest_week("Europe/Paris", sunday_evening_utc) == (date(2026, 3, 2), date(2026, 3, 8))
    assert alerts.digest_week("America/New_York", sunday_evening_utc) == (date(2026, 2, 23), date(2026, 3, 1))


def test_the_scheduled_run_goes_through_the_handler(world, stream):
    patch_store(world, {"alertEmails": ["boss@example.com"]})
    _week_of_answers(world)
    _aggregate(stream)
    event = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
    report = function("alerts").lambda_handler(event, Context())
    assert (report["stores"], report["sent"]) == (1, 1)  # last week's digest (now: the real clock)
    again = function("alerts").lambda_handler(event, Context())
    assert (again["sent"], again["alreadySent"]) == (0, 1)  # same week: once
    assert len(sent_to("boss@example.com")) == 1


def test_a_store_whose_digest_raises_stops_no_other(world, stream, monkeypatch):
    from revisit.domain import alerts

    patch_store(world, {"alertEmails": ["boss@example.com"]})
    patch_store(world, {"alertEmails": ["baker@example.com"]}, store=world.other_store)
    real = alerts.summary

    def broken(store, start, end):
        if store["slug"] == world.store:
            raise RuntimeError("the aggregates could not be read")
        return real(store, start, end)

    monkeypatch.setattr(alerts, "summary", broken)
    with pytest.raises(alerts.NotSent) as failed:
        alerts.run_digests(at=WEEK_AFTER)
    assert failed.value.report["failedStores"] == [f"{world.workspace_id}/{world.store}"]
    assert len(sent_to("baker@example.com")) == 1 and sent_to("boss@example.com") == []
    monkeypatch.setattr(alerts, "summary", real)
    assert alerts.run_digests(at=WEEK_AFTER)["sent"] == 1  # the retry: the failed store only
    assert len(sent_to("baker@example.com")) == 1 and len(sent_to("boss@example.com")) == 1


def test_a_store_created_with_alert_addresses_is_in_the_alert_index(world):
    from revisit.dal import workspaces as dal
    from revisit.domain import workspaces

    for slug in ("harbour-deli", "market-deli"):
        workspaces.create_store(world.workspace_id, slug, slug.title(), settings={"alertEmails": ["x@example.com"]})
    workspaces.create_store(world.workspace_id, "quiet-deli", "Quiet Deli", settings={"alertMaxRating": 3})
    assert [s["slug"] for s in dal.alert_stores()[0]] == ["harbour-deli", "market-deli"]
    first, cursor = dal.alert_stores(limit=1)
    second, _ = dal.alert_stores(limit=1, cursor=cursor)
    assert [s["slug"] for s in first + second] == ["harbour-deli", "market-deli"]  # paged, nothing twice


# ------------------------------------------------------------------ languages


@pytest.mark.parametrize("language", ["fr", "de"])
def test_alert_digest_and_page_texts_come_from_the_catalogs(world, stream, ses_and_queue, language):
    from revisit.domain import alerts, workspaces

    po = catalog(language)
    patch_store(world, {"alertEmails": ["boss@example.com"], "locale": language})
    put_answer(world, 1, comment=None)
    integration_events(stream.read_all())
    run_alerts(*queued(ses_and_queue))
    mail = sent_to("boss@example.com")[0]
    assert mail["subject"] == po["{store}: an answer rated {rating} out of 5"].format(store="Downtown Coffee", rating=1)
    assert po["No comment."] in mail["body"]
    assert po["Stop these emails: {link}"].split("{link}")[0] in mail["body"]
    assert po["A customer rated {store} {rating} out of 5."].format(store="Downtown Coffee", rating=1) in mail["body"]

    store = workspaces.find_store(world.workspace_id, world.store)
    numbers = {"totalFeedback": 1234, "avgRating": 4.25, "csatPercent": 83.3, "returnRate": 50.0,
               "identifiedCustomers": 2, "returningCustomers": 1, "growingDissatisfied": []}  # fmt: skip
    subject, text, _ = alerts.compose_digest(store, date(2026, 3, 2), date(2026, 3, 8), numbers, "boss@example.com")
    start = babel_dates.format_date(date(2026, 3, 2), "short", locale=language)
    end = babel_dates.format_date(date(2026, 3, 8), "short", locale=language)
    week = po["{store}: your week from {start} to {end}"]
    assert subject == week.format(store="Downtown Coffee", start=start, end=end)
    value = babel_numbers.format_decimal(4.25, format="0.00", locale=language)
    assert po["Average rating: {value} out of 5"].format(value=value) in text
    assert po["Answers: {count}"].format(count=babel_numbers.format_decimal(1234, locale=language)) in text
    csat = babel_numbers.format_percent(0.833, locale=language, decimal_quantization=False)
    assert po["Satisfied (4 or 5 stars): {value}"].format(value=csat) in text

    token = alerts.unsubscribe_token(world.workspace_id, world.store, "boss@example.com")
    page = _page("GET", token)
    assert f'lang="{language}"' in page.text and po["Stop alert emails?"] in page.text


@pytest.mark.parametrize("language", ["en", "fr", "de", "es", "it", "nl", "pt"])
def test_numbers_dates_and_times_are_written_as_babel_writes_them(language):
    from revisit.i18n import formats

    for value in (0, 7, 1234, 12345, 1234567):
        assert formats.integer(value, language) == babel_numbers.format_decimal(value, locale=language), value
    for value in (1.0, 3.4, 4.25, 1234.5):
        assert formats.decimal(value, 2, language) == babel_numbers.format_decimal(
            value, format="#,##0.00", locale=language
        )
    for value in (0.0, 50.0, 83.3, 100.0):
        want = babel_numbers.format_percent(value / 100, locale=language, decimal_quantization=False)
        assert formats.percent(value, language) == want, value
    for day in (date(2026, 3, 1), date(2026, 12, 31), date(2031, 1, 9)):
        assert formats.short_date(day, language) == babel_dates.format_date(day, "short", locale=language)
    for moment in (time(0, 5), time(9, 5), time(12, 0), time(21, 45)):
        at = datetime.combine(date(2026, 3, 1), moment)
        assert formats.short_time(at, language) == babel_dates.format_time(moment, "short", locale=language)


def test_a_marker_is_claimed_once_released_on_failure_and_taken_over_only_when_stale(world):
    from revisit.dal import alerts as dal

    key = dal.marker(world.workspace_id, world.store, "feedback.created/abc", "k1")
    t0, lease, expires = 1_800_000_000, 600, 1_900_000_000
    assert dal.claim(key, t0, lease, expires) is True
    assert dal.claim(key, t0 + 5, lease, expires) is False  # another sender, the claim is young
    dal.release(key, t0 + 1)  # not this claim: kept
    assert dal.claim(key, t0 + 10, lease, expires) is False
    dal.release(key, t0)  # the failed sender gives it back ...
    assert dal.claim(key, t0 + 20, lease, expires) is True  # ... so the retry sends
    assert dal.claim(key, t0 + 20 + lease + 1, lease, expires) is True  # a crashed sender's claim, stale
    assert dal.claim(key, t0 + 20 + lease + 2, lease, expires) is False  # taken over once
    dal.mark_sent(key, {"sentAt": "2027-01-15T08:00:00.000Z", "messageId": "m-1"}, expires)
    assert dal.is_sent(key)
    assert dal.claim(key, t0 + 10 * lease, lease, expires) is False  # sent: never again
    long_subject = "customer.dissatisfied/downtown-coffee/" + "é" * 400 + "/3"
    assert len(dal.marker(world.workspace_id, world.store, long_subject, "k1")["sk"]) < 100


def test_an_unknown_unsubscribe_link_answers_in_the_readers_language(world):
    """No store to take the language from: the browser's Accept-Language (it was always English)."""
    event = api_event(
        "GET",
        "/alerts/unsubscribe/nonsense",
        resource="/alerts/unsubscribe/{alertToken}",
        path_params={"alertToken": "nonsense"},
        headers={"Accept-Language": "fr-FR,fr;q=0.9"},
    )
    page = invoke("alert_unsubscribe", event)
    assert page.status == 404 and 'lang="fr"' in page.text
    assert "Link not found" not in page.text  # the French catalog's text
    assert 'lang="en"' in _page("GET", "nonsense").text  # no header: English
