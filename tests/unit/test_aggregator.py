"""The loyalty aggregator (seed 000): real stream events through the real handler, exactly once."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from revisit_dev.streams import matches_filters
from tests.analytics_support import (
    STORE,
    STREAM_EVENT,
    WS,
    CallCounter,
    aggregate_state,
    assert_state_matches,
    deliver,
    fb,
    invoke_aggregator,
    put_feedback,
    write_and_read,
)
from tests.support import Context, emitted_metrics, function, sample_event


def test_one_customer_history_is_aggregated(table, stream):
    fbs = [
        fb("CUST-1", "2026-03-01T09:00:00.000Z", 5),
        fb("CUST-1", "2026-03-01T18:00:00.000Z", 4),
        fb("CUST-1", "2026-03-03T09:00:00.000Z", 2),
        fb(None, "2026-03-03T10:00:00.000Z", 1),
    ]
    deliver(write_and_read(stream, fbs))
    state = aggregate_state(table, WS)
    assert state["days"] == {
        (STORE, "2026-03-01"): {
            "total": 2, "r5": 1, "r4": 1,
            "firstCount": 1, "firstSum": 5, "firstSq": 25, "firstCsat": 1,
            "returnCount": 1, "returnSum": 4, "returnSq": 16, "returnCsat": 1,
        },
        (STORE, "2026-03-03"): {
            "total": 2, "anonymous": 1, "r2": 1, "r1": 1, "returnCount": 1, "returnSum": 2, "returnSq": 4,
        },
    }  # fmt: skip
    assert state["activity"] == {(STORE, "2026-03-01", "CUST-1"): 2, (STORE, "2026-03-03", "CUST-1"): 1}
    customer = state["customers"][(STORE, "CUST-1")]
    assert customer["visitCount"] == 3 and customer["ratingSum"] == 11 and customer["version"] == 3
    assert customer["firstVisitAt"] == "2026-03-01T09:00:00.000Z" and customer["firstRating"] == 5
    assert [r["rating"] for r in customer["recent"]] == [2, 4, 5]
    assert_state_matches(table, fbs, WS)


def test_redelivery_of_records_batches_and_suffixes_changes_nothing(table, stream):
    fbs = [fb(f"C{i % 3}", f"2026-03-0{1 + i % 4}T1{i}:00:00.000Z", 1 + i % 5) for i in range(8)] + [
        fb(None, "2026-03-02T08:00:00.000Z", 3)
    ]
    records = write_and_read(stream, fbs)
    deliver(records)
    before = aggregate_state(table, WS)
    assert_state_matches(table, fbs, WS)
    deliver(records)  # the whole batch again
    deliver(records[4:])  # a suffix, as after a reported failure
    deliver(records[:2])  # a bisected half
    deliver([records[3]] * 3)  # one record, three times in one batch
    assert aggregate_state(table, WS) == before
    assert_state_matches(table, fbs, WS)


def test_outcomes_are_counted_per_batch(table, stream, monkeypatch):
    from revisit.domain import analytics

    seen: list[str] = []
    real = analytics.apply_record
    monkeypatch.setattr(analytics, "apply_record", lambda n, i: seen.append(real(n, i)) or seen[-1])
    records = write_and_read(stream, [fb("C1", "2026-03-01T09:00:00.000Z", 5), fb(None, "2026-03-01T09:01:00Z", 2)])
    assert invoke_aggregator(records) == {"batchItemFailures": []}
    assert invoke_aggregator(records) == {"batchItemFailures": []}
    assert seen == ["applied", "applied", "duplicate", "duplicate"]


def test_a_late_older_record_becomes_the_first_visit(table, stream):
    """First visit = earliest createdAt, not earliest arrival: the counters move when an older
    record arrives late (a retried record after its successors, or a bisected batch)."""
    older = fb("CUST-9", "2026-03-01T09:00:00.000Z", 5)
    newer = fb("CUST-9", "2026-03-04T09:00:00.000Z", 2)
    rec_older, rec_newer = write_and_read(stream, [older, newer])
    deliver([rec_newer])
    days = aggregate_state(table, WS)["days"]
    assert days[(STORE, "2026-03-04")] == {"total": 1, "r2": 1, "firstCount": 1, "firstSum": 2, "firstSq": 4}
    deliver([rec_older])
    days = aggregate_state(table, WS)["days"]
    assert days[(STORE, "2026-03-04")] == {"total": 1, "r2": 1, "returnCount": 1, "returnSum": 2, "returnSq": 4}
    assert days[(STORE, "2026-03-01")] == {
        "total": 1, "r5": 1, "firstCount": 1, "firstSum": 5, "firstSq": 25, "firstCsat": 1,
    }  # fmt: skip
    assert_state_matches(table, [older, newer], WS)


def test_reclassification_on_the_same_day_is_one_update(table, stream):
    """The new first visit and the re-counted former one share a day item: one Update of it."""
    a = fb("C", "2026-03-01T09:00:00.000Z", 5, fid="b-later-id")
    b = fb("C", "2026-03-01T09:00:00.000Z", 3, fid="a-earlier-id")  # same instant: the id decides
    ra, rb = write_and_read(stream, [a, b])
    deliver([ra])
    deliver([rb])
    assert aggregate_state(table, WS)["days"][(STORE, "2026-03-01")] == {
        "total": 2, "r5": 1, "r3": 1,
        "firstCount": 1, "firstSum": 3, "firstSq": 9, "returnCount": 1, "returnSum": 5, "returnSq": 25, "returnCsat": 1,
    }  # fmt: skip
    assert aggregate_state(table, WS)["customers"][(STORE, "C")]["firstFeedbackId"] == "a-earlier-id"


def test_other_records_are_skipped_and_own_writes_never_pass_the_filter(table, stream, world):
    """Delivered unfiltered (every insert, modify and remove of the table, the aggregator's own
    writes included), only feedback inserts count; and none of the aggregator's writes matches
    the template's FilterCriteria, so in AWS it is never invoked for them."""
    from revisit.dal import table as t

    stream.read_all()  # the world's items
    fbs = [fb("C1", "2026-03-01T09:00:00.000Z", 5), fb("C1", "2026-03-02T09:00:00.000Z", 4)]
    for f in fbs:
        put_feedback(f)
    nps = {"pk": "NPS#1042#x", "sk": "META", "type": "nps_review", "id": "n1", "rate": 9}
    t.client.put_item(TableName=t.TABLE, Item=t.serialize(nps))
    t.client.update_item(
        TableName=t.TABLE,
        Key=t.serialize({"pk": "NPS#1042#x", "sk": "META"}),
        UpdateExpression="SET rate = :r",
        ExpressionAttributeValues={":r": t.value(10)},
    )
    t.client.delete_item(TableName=t.TABLE, Key=t.serialize({"pk": "NPS#1042#x", "sk": "META"}))
    everything = stream.read_all()
    assert len(everything) == 5
    assert invoke_aggregator(everything) == {"batchItemFailures": []}
    assert_state_matches(table, fbs, WS)

    own = stream.read_all()  # what the aggregator wrote: markers, counters, states, ...
    assert own and {r["eventName"] for r in own} <= {"INSERT", "MODIFY"}
    assert not [r for r in own if matches_filters(STREAM_EVENT.filters, r)]
    assert invoke_aggregator(own) == {"batchItemFailures": []}  # and if delivered anyway: skipped
    assert_state_matches(table, fbs, WS)


def test_incomplete_nps_reviews_are_invalid_not_failed(table):
    from revisit.domain import analytics

    assert analytics.apply_record("INSERT", {"type": "nps_review", "id": "n", "rate": 9}) == "invalid"
    assert analytics.apply_record("MODIFY", {"type": "feedback"}) == "skipped"
    assert analytics.apply_record("REMOVE", {}) == "skipped"


@pytest.mark.parametrize(
    "change",
    [{"rating": 7}, {"rating": "5"}, {"rating": Decimal("4.5")}, {"createdAt": "yesterday"}, {"civ": 42}, {"id": None}],
)
def test_a_malformed_feedback_record_is_logged_and_skipped(table, stream, change):
    from revisit.domain import analytics

    image = {
        "type": "feedback",
        "id": "x",
        "workspaceId": WS,
        "storeSlug": STORE,
        "rating": Decimal(5),
        "createdAt": "2026-03-01T09:00:00.000Z",
    }
    assert analytics.apply_record("INSERT", {**image, **change}) == "invalid"
    assert analytics.apply_record("INSERT", image) == "applied"


def test_a_failed_record_is_reported_and_its_suffix_replayed(table, stream, monkeypatch):
    from revisit.dal import analytics as dal

    fbs = [fb(f"C{i % 2}", f"2026-03-0{1 + i}T09:00:00.000Z", 1 + i) for i in range(5)]
    records = write_and_read(stream, fbs)
    real, failures = dal.apply, {fbs[2].id}

    def flaky(change):
        if change.record_id in failures:
            failures.discard(change.record_id)
            raise RuntimeError("throttled")
        return real(change)

    monkeypatch.setattr(dal, "apply", flaky)
    result = invoke_aggregator(records)
    assert result == {"batchItemFailures": [{"itemIdentifier": records[2]["dynamodb"]["SequenceNumber"]}]}
    invoke_aggregator(records[2:])  # Lambda retries from the failed record: 3 and 4 come again
    assert_state_matches(table, fbs, WS)


def test_a_batch_that_fails_entirely_is_bisected_and_converges(table, stream, monkeypatch):
    from revisit.dal import analytics as dal

    fbs = [fb("C", f"2026-03-0{1 + i}T09:00:00.000Z", 5 - i) for i in range(4)]
    records = write_and_read(stream, fbs)
    real, failures = dal.apply, Counter({f.id: 2 for f in fbs})

    def flaky(change):
        if failures[change.record_id]:
            failures[change.record_id] -= 1
            raise RuntimeError("throttled")
        return real(change)

    monkeypatch.setattr(dal, "apply", flaky)
    assert deliver(records) > 2
    assert_state_matches(table, fbs, WS)


def test_a_concurrent_change_of_the_customer_is_retried(table, stream, monkeypatch):
    """Optimistic concurrency: the customer state changes between read and write (another
    container applied a visit); the version condition fails, the record is re-planned."""
    from revisit.dal import analytics as dal
    from revisit.domain import analytics

    first = fb("C", "2026-03-01T09:00:00.000Z", 5)
    second = fb("C", "2026-03-02T09:00:00.000Z", 3)
    third = fb("C", "2026-03-03T09:00:00.000Z", 4)
    rec1, rec2, rec3 = write_and_read(stream, [first, second, third])
    deliver([rec1])
    real_get, sneaked = dal.get_customer, []

    def racing_get(ws, store, civ):
        state = real_get(ws, store, civ)
        if not sneaked:
            sneaked.append(True)
            analytics.apply_visit(analytics.visit_of("INSERT", _image(rec3)))
        return state

    monkeypatch.setattr(dal, "get_customer", racing_get)
    deliver([rec2])
    deliver([rec3])  # already applied by the "other container": a duplicate
    assert_state_matches(table, [first, second, third], WS)


def _image(record: dict[str, Any]) -> dict[str, Any]:
    from revisit.dal import table

    return table.deserialize(record["dynamodb"]["NewImage"])


def test_watch_list_entry_comes_and_goes(table, stream):
    """5★ 5★ then 3★ 3★ 3★: growing dissatisfied; then 5★ 5★: recovered, the entry is deleted."""
    ratings = [5, 5, 3, 3, 3, 5, 5]
    fbs = [fb("LOYAL", f"2026-03-0{1 + i}T09:00:00.000Z", r) for i, r in enumerate(ratings)]
    records = write_and_read(stream, fbs)
    deliver(records[:5])
    assert aggregate_state(table, WS)["watch"][(STORE, "LOYAL")] == {
        "civ": "LOYAL",
        "visitCount": 5,
        "earlierSum": 10,
        "earlierCount": 2,
        "recentSum": 9,
        "recentCount": 3,
        "recentRatings": [3, 3, 3],
        "lastVisitAt": "2026-03-05T09:00:00.000Z",
    }
    deliver(records[5:])
    assert aggregate_state(table, WS)["watch"] == {}
    assert_state_matches(table, fbs, WS)


def test_watch_list_entry_follows_the_latest_visit_day(table, stream):
    """The entry is keyed by its latest visit's day (the dashboard reads the period's range only):
    a further low rating on a later day moves it - one entry, never a stale one left behind."""
    from revisit.dal import analytics as dal
    from revisit.dal.table import TABLE

    ratings = [5, 5, 3, 3, 3, 2]
    fbs = [fb("LOYAL", f"2026-03-0{1 + i}T09:00:00.000Z", r) for i, r in enumerate(ratings)]
    records = write_and_read(stream, fbs)
    deliver(records[:5])
    assert [e["lastVisitAt"] for e in dal.watch_list(WS, STORE, "2026-03-05", "2026-03-05")] == [
        "2026-03-05T09:00:00.000Z"
    ]
    deliver(records[5:])
    assert dal.watch_list(WS, STORE, "2026-03-01", "2026-03-05") == []
    (entry,) = dal.watch_list(WS, STORE, "2026-03-06", "2026-03-06")
    assert entry["recentRatings"] == [2, 3, 3]
    watch_keys = [
        i["sk"]["S"]
        for i in table.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :w)",
            ExpressionAttributeValues={":pk": {"S": f"AGG#{WS}#{STORE}"}, ":w": {"S": "WATCH#"}},
        )["Items"]
    ]
    assert watch_keys == ["WATCH#2026-03-06#LOYAL"]
    assert_state_matches(table, fbs, WS)


@pytest.fixture
def dynamodb_calls():
    from revisit.dal import table

    counter = CallCounter()
    table.client.meta.events.register("before-call.dynamodb", counter)
    yield counter
    table.client.meta.events.unregister("before-call.dynamodb", counter)


def test_dynamodb_calls_per_record(table, stream, dynamodb_calls):
    """Identified: 1 GetItem + 1 TransactWriteItems, and a customer's first visit 1 GetItem more
    (the erasure tombstone, revisit.domain.privacy). Anonymous: 1 TransactWriteItems.
    A redelivery costs the same and changes nothing (its transaction is cancelled)."""
    identified = [fb(f"C{i}", f"2026-03-01T09:0{i}:00.000Z", 4) for i in range(5)]
    repeat = [fb(f"C{i}", f"2026-03-02T09:0{i}:00.000Z", 2) for i in range(5)]
    anonymous = [fb(None, f"2026-03-01T10:0{i}:00.000Z", 3) for i in range(5)]
    r1, r2, r3 = (write_and_read(stream, group) for group in (identified, repeat, anonymous))

    for records, expected in ((r1, {"GetItem": 10, "TransactWriteItems": 5}),
                              (r2, {"GetItem": 5, "TransactWriteItems": 5}),
                              (r3, {"TransactWriteItems": 5}),
                              (r1 + r3, {"GetItem": 5, "TransactWriteItems": 10})):  # fmt: skip
        dynamodb_calls.calls.clear()
        deliver(records)
        assert dict(dynamodb_calls.calls) == expected


def test_sample_event_is_applied_once(table):
    """events/aggregator_stream.json (sam local invoke AggregatorFunction -e ...) applies two
    visits; invoking it again applies nothing."""
    event = sample_event("aggregator_stream")
    assert function("aggregator").lambda_handler(event, Context()) == {"batchItemFailures": []}
    state = aggregate_state(table, "1042")
    assert state["days"] == {
        ("downtown-coffee", "2026-03-02"): {
            "total": 2, "anonymous": 1, "r5": 1, "r3": 1, "firstCount": 1, "firstSum": 5, "firstSq": 25, "firstCsat": 1,
        }
    }  # fmt: skip
    assert function("aggregator").lambda_handler(sample_event("aggregator_stream"), Context()) == {
        "batchItemFailures": []
    }
    assert aggregate_state(table, "1042") == state


def test_each_batch_emits_its_record_outcomes_as_metrics(table, stream, capsys, monkeypatch):
    from revisit.dal import analytics as dal

    records = write_and_read(stream, [fb("C1", "2026-03-01T09:00:00.000Z", 5), fb(None, "2026-03-01T09:01:00Z", 2)])
    capsys.readouterr()
    assert invoke_aggregator(records) == {"batchItemFailures": []}
    assert emitted_metrics(capsys.readouterr().out) == {
        "RecordsApplied": 2,
        "RecordsDuplicate": 0,
        "RecordsSkipped": 0,
        "RecordsInvalid": 0,
        "RecordsFailed": 0,
    }
    late = fb("C2", "2026-03-02T09:00:00.000Z", 4)
    real = dal.apply

    def throttled(change):
        if change.record_id == late.id:
            raise RuntimeError("throttled")
        return real(change)

    monkeypatch.setattr(dal, "apply", throttled)
    (failing,) = write_and_read(stream, [late])
    result = invoke_aggregator([*records, failing])
    assert result == {"batchItemFailures": [{"itemIdentifier": failing["dynamodb"]["SequenceNumber"]}]}
    assert emitted_metrics(capsys.readouterr().out) == {
        "RecordsApplied": 0,
        "RecordsDuplicate": 2,
        "RecordsSkipped": 0,
        "RecordsInvalid": 0,
        "RecordsFailed": 1,
    }
