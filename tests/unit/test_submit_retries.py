"""Retry-safe submission (issue 14 part 5): a repeated submit gets the first answer back, never a
second record - one-time tokens by the answer itself, campaign tokens only by an Idempotency-Key."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from tests.support import api_event, invoke

TABLE = "revisit-unit"
FB_PK = "FB#1042#downtown-coffee"


def new_token(world, **extra):
    body = {"storeSlug": "downtown-coffee", "payload": {"orderId": "ORD-1", "civ": "CUST-1"}, **extra}
    reply = invoke("token", api_event("POST", "/api/external/token", body=body, headers={"x-api-key": world.store_key}))
    assert reply.status == 201, reply.body
    return reply.json["token"]


def new_campaign(world, **extra):
    body = {"storeSlug": "downtown-coffee", "name": "Table QR", **extra}
    reply = invoke("management", api_event("POST", "/api/campaigns", body=body, headers=world.owner_headers()))
    assert reply.status == 201, reply.body
    return reply.json["token"]


def submit(body, key=None):
    headers = {"Idempotency-Key": key} if key is not None else None
    return invoke("submit", api_event("POST", "/api/external/public/submit", body=body, headers=headers))


def records(table):
    """The store's feedback records (one Query of its time line)."""
    return table.query(
        TableName=TABLE, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": FB_PK}}
    )["Items"]


def stored_token(table, token):
    return table.get_item(TableName=TABLE, Key={"pk": {"S": f"TOKEN#{token}"}, "sk": {"S": "META"}}).get("Item")


def at(monkeypatch, when: datetime):
    from revisit.domain import submissions

    monkeypatch.setattr(submissions, "now", lambda: when)


def assert_replay_of(first, again):
    assert first.status == 201 and "idempotent-replayed" not in first.headers
    assert again.status == 200, again.body
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json == first.json  # id, status, rating, createdAt of the first submission
    assert set(again.json) == {"id", "status", "rating", "createdAt"}


# ---------------------------------------------------------------- one-time tokens


def test_the_same_answer_again_gets_the_first_record_back(world, table):
    token = new_token(world)
    body = {"token": token, "rating": 5, "comment": "Great coffee", "civ": "CUST-B"}
    first = submit(body)
    assert_replay_of(first, submit(body))
    assert_replay_of(first, submit({**body, "comment": "  Great coffee "}))  # normalised: stripped
    assert len(records(table)) == 1


def test_an_empty_comment_is_the_same_answer_as_none(world, table):
    token = new_token(world)
    first = submit({"token": token, "rating": 3})
    assert_replay_of(first, submit({"token": token, "rating": 3, "comment": ""}))
    assert len(records(table)) == 1


@pytest.mark.parametrize(
    "change", [{"rating": 4}, {"comment": "Other"}, {"civ": "CUST-X"}, {"comment": None, "civ": None}]
)
def test_a_different_answer_is_still_409(world, table, change):
    token = new_token(world)
    body = {"token": token, "rating": 5, "comment": "Great coffee", "civ": "CUST-B"}
    assert submit(body).status == 201
    other = submit({k: v for k, v in {**body, **change}.items() if v is not None})
    assert other.status == 409 and "idempotent-replayed" not in other.headers
    assert "already been used" in other.json["error"]["message"]
    assert len(records(table)) == 1


def test_a_replay_23_hours_after_use_still_works_because_the_expiry_was_extended(world, table, monkeypatch):
    token = new_token(world, expiresInDays=1)  # the link itself expires 24 h from now
    created_expiry = int(stored_token(table, token)["expiresAtEpoch"]["N"])
    used = datetime.now(UTC) + timedelta(hours=23, minutes=30)
    at(monkeypatch, used)
    body = {"token": token, "rating": 4, "comment": "fine"}
    first = submit(body)
    assert first.status == 201
    item = stored_token(table, token)
    kept = int(item["expiresAtEpoch"]["N"])  # the TTL attribute: what the state check reads
    assert kept == int(used.timestamp()) + 24 * 3600 > created_expiry
    assert item["status"]["S"] == "used" and item["feedbackId"]["S"] == first.json["id"]
    assert len(item["submitHash"]["S"]) == 64 and item["feedbackCreatedAt"]["S"] == first.json["createdAt"]

    at(monkeypatch, used + timedelta(hours=23))  # 46.5 h after creation: past the link's own expiry
    assert_replay_of(first, submit(body))
    assert submit({**body, "rating": 1}).status == 409

    at(monkeypatch, used + timedelta(hours=24, seconds=1))  # the window is over: the token state answers
    late = submit(body)
    assert late.status == 409 and "idempotent-replayed" not in late.headers
    assert len(records(table)) == 1


def test_a_used_token_keeps_its_longer_expiry(world, table):
    token = new_token(world, expiresInDays=30)
    before = int(stored_token(table, token)["expiresAtEpoch"]["N"])
    assert submit({"token": token, "rating": 5}).status == 201
    assert int(stored_token(table, token)["expiresAtEpoch"]["N"]) == before  # never shortened


def test_a_token_used_before_this_change_has_no_hash_and_answers_409(world, table):
    token = new_token(world)
    body = {"token": token, "rating": 5}
    assert submit(body).status == 201
    table.update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"TOKEN#{token}"}, "sk": {"S": "META"}},
        UpdateExpression="REMOVE submitHash, feedbackCreatedAt",
    )
    assert submit(body).status == 409
    assert len(records(table)) == 1


def test_an_idempotency_key_on_a_one_time_token_is_accepted_and_harmless(world, table):
    token = new_token(world)
    body = {"token": token, "rating": 2, "comment": "slow"}
    first = submit(body, key="pos-retry-1")
    assert_replay_of(first, submit(body, key="pos-retry-1"))
    assert_replay_of(first, submit(body, key="another-key"))  # the answer decides, not the key
    assert_replay_of(first, submit(body))
    assert submit({**body, "rating": 3}, key="pos-retry-1").status == 409
    assert len(records(table)) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there", "nul\x00"])
def test_a_bad_idempotency_key_is_400_naming_the_header_and_writes_nothing(world, table, key):
    token = new_token(world)
    reply = submit({"token": token, "rating": 5}, key=key)
    assert reply.status == 400, reply.body
    assert [d["field"] for d in reply.json["error"]["details"]] == ["Idempotency-Key"]
    assert records(table) == []
    assert submit({"token": token, "rating": 5}, key="x" * 255).status == 201  # the longest allowed


# ---------------------------------------------------------------- campaign tokens


def test_two_identical_campaign_answers_are_two_customers(world, table):
    token = new_campaign(world)
    body = {"token": token, "rating": 5}
    first, second = submit(body), submit(body)
    assert first.status == second.status == 201 and first.json["id"] != second.json["id"]
    assert len(records(table)) == 2


def test_a_campaign_retry_with_the_same_idempotency_key_gets_the_first_answer(world, table):
    token = new_campaign(world)
    body = {"token": token, "rating": 4, "comment": "nice terrace"}
    first = submit(body, key="kiosk-7-0001")
    assert_replay_of(first, submit(body, key="kiosk-7-0001"))
    other_body = submit({**body, "rating": 1}, key="kiosk-7-0001")
    assert other_body.status == 409
    assert [d["field"] for d in other_body.json["error"]["details"]] == ["Idempotency-Key"]
    another_key = submit(body, key="kiosk-7-0002")  # a new key is a new customer
    assert another_key.status == 201 and another_key.json["id"] != first.json["id"]
    assert submit(body).status == 201  # and so is no key
    assert len(records(table)) == 3
    assert int(stored_token(table, token)["uses"]["N"]) == 3


def test_the_key_is_scoped_to_its_token(world, table):
    one, two = new_campaign(world), new_campaign(world, name="Counter")
    assert submit({"token": one, "rating": 5}, key="same-key").status == 201
    assert submit({"token": two, "rating": 5}, key="same-key").status == 201
    assert len(records(table)) == 2


def test_a_campaign_retry_replays_even_after_its_answer_used_the_last_use(world, table):
    token = new_campaign(world, maxUses=1)
    body = {"token": token, "rating": 5}
    first = submit(body, key="k1")
    assert_replay_of(first, submit(body, key="k1"))
    assert submit(body).status == 410  # without the key it is a new customer: no uses left
    assert submit(body, key="k2").status == 410
    assert len(records(table)) == 1


def test_a_campaign_key_is_remembered_24_hours(world, table, monkeypatch):
    token = new_campaign(world)
    body = {"token": token, "rating": 5}
    start = datetime.now(UTC)
    at(monkeypatch, start)
    first = submit(body, key="k1")
    at(monkeypatch, start + timedelta(hours=23, minutes=59))
    assert_replay_of(first, submit(body, key="k1"))
    at(monkeypatch, start + timedelta(hours=24, seconds=1))  # expired (TTL may not have deleted it yet)
    later = submit(body, key="k1")
    assert later.status == 201 and later.json["id"] != first.json["id"]
    assert len(records(table)) == 2


# ---------------------------------------------------------------- conflicts and concurrency


def _conflict(n_items: int) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
            "CancellationReasons": [{"Code": "TransactionConflict", "Message": "conflict"}] * n_items,
        },
        "TransactWriteItems",
    )


def test_transaction_conflicts_are_retried(world, table, monkeypatch):
    from revisit.dal import table as dal_table
    from revisit.domain import submissions

    token = new_token(world)
    monkeypatch.setattr(submissions.time, "sleep", lambda _s: None)
    real = dal_table.client.transact_write_items
    calls = []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) <= 3:
            raise _conflict(len(kwargs["TransactItems"]))
        return real(**kwargs)

    monkeypatch.setattr(dal_table.client, "transact_write_items", flaky)
    assert submit({"token": token, "rating": 5}).status == 201
    assert len(calls) == 4 and len(records(table)) == 1


def test_a_conflict_that_never_ends_is_409_busy_and_writes_nothing(world, table, monkeypatch):
    from revisit.dal import table as dal_table
    from revisit.domain import submissions

    token = new_token(world)
    monkeypatch.setattr(submissions.time, "sleep", lambda _s: None)

    def always(**kwargs):
        raise _conflict(len(kwargs["TransactItems"]))

    monkeypatch.setattr(dal_table.client, "transact_write_items", always)
    reply = submit({"token": token, "rating": 5})
    assert reply.status == 409 and reply.json["error"]["details"] == [{"field": "token", "message": "busy"}]
    assert records(table) == []
    assert stored_token(table, token)["status"]["S"] == "open"


@pytest.fixture
def dynamodb_like_transactions(monkeypatch):
    """moto's TransactWriteItems, made to behave like DynamoDB's under concurrency: a transaction
    while another is in flight is cancelled with TransactionConflict (moto itself has no lock, so
    two could both pass their conditions). Returns the number of conflicts raised."""
    from moto.dynamodb.exceptions import TransactionCanceledException
    from moto.dynamodb.models import DynamoDBBackend

    real = DynamoDBBackend.transact_write_items
    in_flight = threading.Lock()
    conflicts = []

    def one_at_a_time(self, transact_items):
        if not in_flight.acquire(blocking=False):
            conflicts.append(1)
            raise TransactionCanceledException([("TransactionConflict", "conflict", None)] * len(transact_items))
        try:
            return real(self, transact_items)
        finally:
            in_flight.release()

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", one_at_a_time)
    return conflicts


def _race(n, fn):
    barrier = threading.Barrier(n)

    def one(_):
        barrier.wait()
        return fn()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def test_forty_concurrent_identical_submits_make_one_record(world, table, dynamodb_like_transactions):
    from revisit.domain import submissions

    token = new_token(world)
    results = _race(40, lambda: submissions.submit(token, 5, "great", None))
    assert sum(not r.replayed for r in results) == 1  # one 201, 39 replays (200)
    assert len({r.feedback["id"] for r in results}) == 1
    assert len(records(table)) == 1
    assert stored_token(table, token)["status"]["S"] == "used"
    print(f"{len(dynamodb_like_transactions)} transaction conflicts retried")


def test_forty_concurrent_campaign_retries_with_one_key_make_one_record(world, table, dynamodb_like_transactions):
    from revisit.domain import submissions

    token = new_campaign(world)
    results = _race(40, lambda: submissions.submit(token, 4, None, "CUST-9", idempotency_key="till-3-884"))
    assert sum(not r.replayed for r in results) == 1
    assert len({r.feedback["id"] for r in results}) == 1
    assert len(records(table)) == 1
    assert int(stored_token(table, token)["uses"]["N"]) == 1


def test_the_domain_function_returns_the_stored_record(world, table):
    from revisit.domain import submissions

    token = new_token(world)
    first = submissions.submit(token, 5, "ok", None)
    again = submissions.submit(token, 5, "ok", None, idempotency_key="any")
    assert isinstance(first, submissions.Submitted) and not first.replayed and again.replayed
    assert again.feedback == first.feedback  # the whole stored record, as the first call returned it
    with pytest.raises(AttributeError):
        first.replayed = True  # frozen
