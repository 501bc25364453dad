"""`revisit demo-data` (issue 17 part 4) against the real handlers in-process: a client that routes
each request like API Gateway (the local stack's router, from template.yaml) to the function's
own lambda_handler. Volume, returning share, drifting customers on the dashboard, NPS and trackers
through their APIs, a rerun adds nothing, the same seed gives the same history."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from revisit_dev import demo
from revisit_dev.gateway import Router
from revisit_dev.template import load_template
from tests.analytics_support import invoke_aggregator
from tests.support import api_event, invoke
from tests.unit.test_sending import outboxes, run  # noqa: F401 - outboxes: a fixture

NOW = datetime.now(UTC).replace(microsecond=0)
PERIOD = {"from": (NOW - timedelta(days=91)).date().isoformat(), "to": NOW.date().isoformat()}


class InProcess:
    """demo.Http's interface, answered by the functions themselves (no sockets)."""

    def __init__(self) -> None:
        template = load_template()
        self.router = Router.from_template(template)
        self.dirs = {f.logical_id: f.code_dir.name for f in template.functions}
        self.headers: dict[str, str] = {}
        self.calls: Counter = Counter()
        self.creds: demo.Credentials | None = None

    def request(self, method, path, *, body=None, text=None, content_type="application/json", headers=None,
                query=None):  # fmt: skip
        match = self.router.match(method, path)
        assert match is not None, f"no route for {method} {path}"
        event = api_event(
            method,
            path,
            resource=match.route.path,
            body=text if text is not None else body,
            headers={**(headers or {}), **({"Content-Type": content_type} if text is not None else {})},
            query={k: str(v) for k, v in (query or {}).items()} or None,
            path_params=match.path_parameters or None,
        )
        self.calls[f"{method} {match.route.path}"] += 1
        reply = invoke(self.dirs[match.function], event)
        self.headers = {k.lower(): v for k, v in reply.headers.items()}
        try:
            return reply.status, reply.json
        except ValueError:
            return reply.status, reply.text


def _credentials(world):
    from revisit.domain import credentials
    from revisit.domain.auth import Kind

    shop = credentials.issue(world.workspace_id, Kind.SHOP, "store", world.store, shop_id=world.shop_id)
    partner = credentials.issue(world.workspace_id, Kind.PARTNER, "store", world.store)
    return demo.Credentials(
        workspace_id=world.workspace_id,
        key=world.workspace_key,
        shop_id=shop["shopId"],
        shop_secret=shop["shopSecret"],
        partner_key=partner["apiKey"],
        partner_secret=partner["apiSecret"],
    )


def _demo(world, client, stream, now=NOW, **kw):
    out = io.StringIO()
    client.creds = _credentials(world)
    summary = demo.run(
        client,
        client.creds,
        world.store,
        days=90,
        customers=kw.pop("customers", 100),
        seed=kw.pop("seed", 7),
        now=now,
        progress=demo.Progress(out),
        send=lambda: run(datetime.now(UTC) + timedelta(seconds=2)),
        **kw,
    )
    records = stream.read()
    if records:
        invoke_aggregator(records)
    return summary, out.getvalue()


def test_the_plan_is_deterministic_and_realistic():
    a = demo.plan("downtown-coffee", 90, 300, 7, NOW)
    b = demo.plan("downtown-coffee", 90, 300, 7, NOW)
    assert a == b and demo.plan("downtown-coffee", 90, 300, 8, NOW) != a
    civs = Counter(r["civ"] for r in a.feedback if "civ" in r)
    assert len(civs) == 300 and 800 <= len(a.feedback) <= 1400
    returning = sum(1 for n in civs.values() if n > 1) / len(civs)
    assert 0.45 <= returning <= 0.7  # most shops: about half come back
    assert len(a.drifting) == 12
    for civ in a.drifting:
        ratings = [r["rating"] for r in a.feedback if r.get("civ") == civ]  # oldest first
        assert len(ratings) >= 5 and sum(ratings[-3:]) / 3 <= sum(ratings[:-3]) / len(ratings[:-3]) - 1
    times = [r["createdAt"] for r in a.feedback]
    assert times == sorted(times) and times[0] >= (NOW - timedelta(days=90)).isoformat()[:10]
    assert max(times) < NOW.strftime("%Y-%m-%dT%H:%M:%S.000Z")  # nothing in the future (the import refuses it)
    assert len({r["externalId"] for r in a.feedback}) == len(a.feedback)


def test_demo_data_fills_a_living_dashboard_and_a_rerun_adds_nothing(world, stream, outboxes):  # noqa: F811
    client = InProcess()
    summary, bars = _demo(world, client, stream)
    planned = demo.plan(world.store, 90, 100, 7, NOW)
    fb = summary["feedback"]
    assert fb["rows"] == len(planned.feedback) and fb["created"] == fb["rows"] and fb["alreadyPresent"] == 0
    assert fb["customers"] == 100 and 0.45 <= fb["returningCustomers"] / fb["customers"] <= 0.7
    assert client.calls["POST /api/external/feedback/import"] == 1  # the import path, 1,000 rows a request
    assert "feedback   [" in bars and f"{fb['rows']}/{fb['rows']}" in bars

    key = {"x-api-key": world.store_key}
    dash = invoke(
        "dashboard",
        api_event("GET", "/api/external/dashboard", headers=key, query=PERIOD | {"storeSlug": world.store}),
    )
    assert dash.status == 200, dash.text
    board = dash.json
    # every imported row is counted (the trackers' answers come on top of them)
    assert board["totalFeedback"] >= fb["rows"] and board["returningCustomers"] >= fb["returningCustomers"] - 5
    drifting = {d["civ"] for d in board["growingDissatisfied"]}
    assert set(planned.drifting) <= drifting, (planned.drifting, board["growingDissatisfied"])

    assert summary["nps"]["created"] == len(planned.nps) > 0
    shop = {"shop_id": client.creds.shop_id, "shop_secret": client.creds.shop_secret, "limit": 1000}
    status, reviews = client.request("GET", "/nps/reviews", query=shop)
    assert status == 200 and len(reviews) == len(planned.nps)
    assert {r["channel"] for r in reviews} == {"counter", "app"}

    t = summary["trackers"]
    assert t["purchases"] == t["trackers"] == 20 and t["clickedNow"] > 0 and t["answeredNow"] > 0
    report = invoke(
        "feedback",
        api_event("GET", "/api/external/trackers/report", headers=key, query={"storeSlug": world.store}),
    ).json["total"]
    assert report["sent"] == 20 and report["clicked"] == t["clickedNow"] and report["completed"] == t["answeredNow"]

    rows_before = _feedback_count(world)
    again, _ = _demo(world, client, stream, now=NOW + timedelta(hours=3))  # a later run: other times, same ids
    assert again["feedback"]["created"] == 0 and again["feedback"]["alreadyPresent"] == fb["rows"]
    assert again["nps"]["created"] == 0
    assert again["trackers"]["clickedNow"] == 0 and again["trackers"]["answeredNow"] == 0
    assert _feedback_count(world) == rows_before
    after = invoke(
        "feedback",
        api_event("GET", "/api/external/trackers/report", headers=key, query={"storeSlug": world.store}),
    ).json["total"]
    assert after == report


def _feedback_count(world):
    from revisit.dal import keys, table

    return len(table.query_partition(keys.feedback_store_pk(world.workspace_id, world.store)))


@pytest.mark.parametrize("days", [1, 5])
def test_short_histories_work_too(days):
    p = demo.plan("s", days, 30, 1, NOW)
    assert p.feedback and all(r["createdAt"] < NOW.strftime("%Y-%m-%dT%H:%M:%S.000Z") for r in p.feedback)


def test_the_cli_command_is_wired():
    from revisit_dev.cli import _parser

    args = _parser().parse_args(["demo-data", "--store", "downtown-coffee", "--days", "30", "--customers", "50"])
    assert (args.command, args.days, args.customers, args.seed, args.workspace_id) == ("demo-data", 30, 50, 1, "1042")
