"""One tenant cannot exhaust the others (issue 18 part 4): each workspace's authenticated
requests a minute are bounded (429 + Retry-After beyond), counted per container and reported to a
shared minute counter only when the credential cache reads the credential again (<= every 5 s),
so the warm path makes no extra call. With the credential cache ON and clocks the test moves."""

from __future__ import annotations

import dataclasses

import pytest

from revisit.config import settings
from revisit.domain import auth, limits
from tests.support import api_event, invoke

LIMIT = 40


class Calls:
    def __init__(self) -> None:
        self.ops: list[str] = []

    def __call__(self, model, **_):
        self.ops.append(model.name)


@pytest.fixture
def calls():
    from revisit.dal import table

    counter = Calls()
    table.client.meta.events.register("before-call.dynamodb", counter)
    yield counter
    table.client.meta.events.unregister("before-call.dynamodb", counter)


@pytest.fixture
def clocks(monkeypatch):
    """The credential cache on (5 s bound), the limit at LIMIT a minute, both clocks in the test's hand."""
    on = dataclasses.replace(settings(), credential_cache_seconds=30.0, tenant_requests_per_minute=LIMIT)
    monkeypatch.setattr(auth, "settings", lambda: on)
    monkeypatch.setattr(limits, "settings", lambda: on)
    t = {"t": 6_000_000.0}  # a minute boundary (epoch seconds divisible by 60)
    monkeypatch.setattr(auth, "_clock", lambda: t["t"])
    monkeypatch.setattr(limits, "_wall", lambda: t["t"])
    auth.clear_cache()
    limits.clear()
    yield t
    auth.clear_cache()
    limits.clear()


def campaigns(headers):
    return invoke("management", api_event("GET", "/api/campaigns", headers=headers))


def test_a_tenant_over_its_minute_gets_429_and_the_others_do_not(world, clocks, calls):
    mine, theirs = {"x-api-key": world.store_key}, {"x-api-key": world.foreign_key}
    answers = []
    for step in range(60):  # 60 requests in 30 s: over the limit of 40 a minute
        clocks["t"] = 6_000_000.0 + 0.5 * step
        answers.append(campaigns(mine).status)
        if step % 2 == 0:
            assert campaigns(theirs).status == 200  # the other workspace, 30 requests: untouched
    assert set(answers) == {200, 429}
    admitted = answers.count(200)
    # admitted until the first report after the 40th (reports every 5 s = 10 requests): 40 to 50
    assert LIMIT <= admitted <= LIMIT + 10, answers
    assert answers[admitted:] == [429] * (60 - admitted)  # and refused from then on in the minute
    refused = campaigns(mine)
    assert refused.status == 429 and refused.json["error"]["code"] == "TOO_MANY_REQUESTS"
    assert 1 <= int(refused.headers["retry-after"]) <= 31
    clocks["t"] = 6_000_060.0 + 5  # the next minute, after the next credential read: admitted again
    assert campaigns(mine).status == 200


def test_the_warm_path_makes_no_extra_call_and_a_report_is_one_update(world, clocks, calls):
    mine = {"x-api-key": world.store_key}
    assert campaigns(mine).status == 200  # cold: credential GetItem + the campaigns Query, no report
    assert calls.ops == ["GetItem", "Query"]
    calls.ops.clear()
    for step in range(1, 10):  # within 5 s: the warm path, unchanged
        clocks["t"] = 6_000_000.0 + 0.5 * step
        campaigns(mine)
    assert calls.ops == ["Query"] * 9
    calls.ops.clear()
    clocks["t"] = 6_000_005.0  # the credential is read again: the 10 admitted are reported, once
    campaigns(mine)
    assert calls.ops == ["GetItem", "UpdateItem", "Query"]
    from revisit.dal import keys, table

    item = table.get(keys.tenant_usage(world.workspace_id, 100_000))
    assert item["count"] == 10 and item[keys.TTL] > 6_000_060


def test_several_containers_share_the_minute(world, clocks):
    """Two containers (two credential caches and counters): the shared counter adds both, so the
    tenant is stopped at its limit over the two, not twice it."""
    mine = {"x-api-key": world.store_key}
    statuses = []
    for step in range(120):  # each container 1 request every 0.5 s, 60 s
        clocks["t"] = 6_000_000.0 + 0.25 * step
        container = step % 2
        saved = (dict(limits._tenants), auth._cache)
        limits._tenants.clear()
        limits._tenants.update(_containers[container][0])
        auth._cache = _containers[container][1]
        statuses.append(campaigns(mine).status)
        _containers[container] = (dict(limits._tenants), auth._cache)
        limits._tenants.clear()
        limits._tenants.update(saved[0])
        auth._cache = saved[1]
        if clocks["t"] >= 6_000_029:
            break
    admitted = statuses.count(200)
    assert LIMIT <= admitted <= LIMIT + 20, statuses  # each container reports every 5 s: 10 each


_containers: list = [({}, auth.TtlCache(max_entries=16)), ({}, auth.TtlCache(max_entries=16))]


def test_the_counter_failing_admits_the_request(world, clocks, monkeypatch):
    from revisit.dal import limits as limits_dal

    def broken(*_a, **_k):
        raise RuntimeError("throttled")

    monkeypatch.setattr(limits_dal, "add_use", broken)
    mine = {"x-api-key": world.store_key}
    for step in range(12):
        clocks["t"] = 6_000_000.0 + 0.5 * step
        assert campaigns(mine).status == 200


def test_off_by_default():
    assert settings().tenant_requests_per_minute == 0
