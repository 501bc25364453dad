"""`revisit demo-data`: a realistic history for one store, through the public APIs, so a fresh
`make dev` shows a living dashboard (issue 17 part 4).

- **Feedback**: ``--customers`` identified customers over ``--days`` days — about 45 % come once,
  the rest return 2-8 times, each around a rating of their own; one in 25 *drifts down* (good
  first visits, then three poor ones in the last weeks: the dashboard's growing-dissatisfied
  list); plus anonymous answers, comments matching their rating. Sent through
  ``POST /api/external/feedback/import`` (1,000 rows a request), each row with a stable
  ``externalId``: a second run stores nothing twice.
- **NPS**: reviews through ``POST /nps/create`` on two channels and two categories it creates
  through ``POST /api/nps/{kind}``; a review already there (same rate, channel, category,
  comment: seed 002 has no idempotency key) is not sent again.
- **Trackers**: an email survey (``POST /api/surveys``, once), purchases through
  ``POST /partners/purchases`` (idempotent by id), the local scheduler run once (the emails land
  in the local outbox), then some links clicked (``GET /r/{token}``) and some answered
  (``POST /api/external/public/submit``) — never twice (a tracker's status says what was done).

Deterministic for a ``--seed`` (the same rows, the same answers); times are relative to now,
so a rerun on a later day keeps its rows (their ids) and adds nothing. The credentials it needs
are issued for the run and revoked at its end.
"""

from __future__ import annotations

import json
import random
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

SURVEY_NAME = "Demo: after-purchase email"
NPS_CODES = {"channels": (("counter", "At the counter"), ("app", "In the app")),
             "categories": (("coffee", "Coffee"), ("service", "Service"))}  # fmt: skip
DRIFT_EVERY = 25  # one customer in 25 drifts down
COMMENTS = {
    5: ("Lovely flat white, as always", "Best croissant in town", "Friendly staff and quick", "Perfect, thanks!"),
    4: ("Good coffee, a bit of a queue", "Nice place, will come back", "Tasty, slightly pricey"),
    3: ("Okay, nothing special", "Coffee was fine, music too loud", "Average today"),
    2: ("Slow service today", "My order was wrong", "Cold coffee, not great"),
    1: ("Waited 20 minutes and left", "Rude at the counter", "Never again, sadly"),
}
NPS_COMMENTS = ("", "", "Great team", "Too expensive lately", "Love the new menu", "Seats are uncomfortable")


@dataclass
class Plan:
    feedback: list[dict[str, Any]] = field(default_factory=list)
    nps: list[dict[str, Any]] = field(default_factory=list)
    purchases: list[dict[str, Any]] = field(default_factory=list)
    drifting: list[str] = field(default_factory=list)  # the civs that drift down


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _rating(rng: random.Random, mean: float) -> int:
    return max(1, min(5, round(rng.gauss(mean, 0.8))))


def plan(store: str, days: int, customers: int, seed: int, now: datetime) -> Plan:
    """Everything the run sends, from ``seed`` alone (and ``now`` for the times)."""
    rng = random.Random(f"revisit-demo/{seed}/{store}")
    out = Plan()
    start = now - timedelta(days=days)

    def at(day: float) -> datetime:
        """A shop-hours time on day ``day`` (0 = the oldest), never later than a minute ago."""
        moment = start + timedelta(days=int(day), hours=rng.randint(7, 19), minutes=rng.randint(0, 59))
        return min(moment, now - timedelta(minutes=1))

    visits: list[tuple[datetime, str | None, int]] = []
    for i in range(customers):
        civ = f"demo-{seed}-c{i:04d}"
        if i % DRIFT_EVERY == DRIFT_EVERY - 1 and days >= 6:
            out.drifting.append(civ)
            recent_from = max(days - 21, days // 2)
            early = sorted(rng.uniform(0, recent_from) for _ in range(rng.randint(3, 4)))
            late = sorted(rng.uniform(recent_from, days) for _ in range(3))
            visits += [(at(d), civ, rng.choice((4, 5, 5))) for d in early]
            visits += [(at(d), civ, rng.choice((1, 2, 2))) for d in late]
            continue
        count = rng.choices((1, 2, 3, 4, 5, 6, 8), weights=(45, 20, 13, 9, 6, 4, 3))[0]
        mean = rng.choice((4.6, 4.3, 4.0, 3.6, 3.0))
        for d in sorted(rng.uniform(0, days) for _ in range(count)):
            visits.append((at(d), civ, _rating(rng, mean)))
    for _ in range(customers // 2):  # anonymous answers (no customer id)
        visits.append((at(rng.uniform(0, days)), None, _rating(rng, 4.0)))
    for n, (moment, civ, rating) in enumerate(visits):
        row: dict[str, Any] = {
            "storeSlug": store,
            "createdAt": _iso(moment),
            "rating": rating,
            "source": rng.choice(("pos", "pos", "qr", "email")),
            "orderId": f"D{seed}-{n:05d}",
            "externalId": f"demo:{store}:{seed}:{n}",
        }
        if civ:
            row["civ"] = civ
        if rng.random() < 0.55:
            row["comment"] = rng.choice(COMMENTS[rating])
        out.feedback.append(row)
    out.feedback.sort(key=lambda r: r["createdAt"])
    steady = [c for c in (f"demo-{seed}-c{i:04d}" for i in range(customers)) if c not in set(out.drifting)]
    for n in range(max(1, customers // 3)):
        review: dict[str, Any] = {
            "rate": rng.choices(range(1, 11), weights=(2, 1, 2, 2, 3, 5, 9, 14, 16, 14))[0],
            "channel": rng.choice([c for c, _ in NPS_CODES["channels"]]),
            "category": rng.choice([c for c, _ in NPS_CODES["categories"]]),
            "comment": rng.choice(NPS_COMMENTS),
            "order_id": f"N{seed}-{n:05d}",
            "email": f"demo-nps-{seed}-{n}@example.com",  # seed 002 wants a contact (or a device id)
        }
        if rng.random() < 0.6 and steady:  # a review is a visit too: never a drifting customer's
            review["loyalty_id"] = rng.choice(steady)
        out.nps.append(review)
    for n, civ in enumerate(steady[: min(100, max(1, customers // 5))]):
        out.purchases.append(
            {
                "purchaseId": f"DP{seed}-{n:04d}",
                "customerId": civ,
                "storeSlug": store,
                "purchasedAt": _iso(now - timedelta(minutes=5)),
                "amount": round(rng.uniform(3, 40), 2),
                "currency": "EUR",
                "email": f"{civ}@example.com",
                # what this customer does with the email: 0 nothing, 1 clicks, 2 clicks and answers
                "_fate": rng.choices((0, 1, 2), weights=(35, 20, 45))[0],
                "_rating": _rating(rng, 4.0),
            }
        )
    return out


# ------------------------------------------------------------------ talking to the API


class Http:
    """The API over HTTP (the local stack or a deployed one)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers: dict[str, str] = {}  # the last answer's headers (lower-case names)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        text: str | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        query: dict[str, Any] | None = None,
    ) -> tuple[int, Any]:
        url = self.base_url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = text.encode() if text is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - the operator's URL
        if data is not None:
            req.add_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(req, timeout=120) as resp:
                raw, status = resp.read().decode(errors="replace"), resp.status
                self.headers = {k.lower(): v for k, v in resp.headers.items()}
        except urllib.error.HTTPError as exc:
            raw, status = exc.read().decode(errors="replace"), exc.code
            self.headers = {k.lower(): v for k, v in exc.headers.items()}
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # a tracker link's 302 is the answer
        return None


def _bar(label: str, done: int, total: int) -> str:
    total = max(total, 1)
    return f"\r{label:<10} [{'#' * (30 * done // total):<30}] {done}/{total}"


class Progress:
    """One progress bar per step, on stderr."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream if stream is not None else sys.stderr

    def __call__(self, label: str, done: int, total: int) -> None:
        self.stream.write(_bar(label, done, total) + ("\n" if done >= total else ""))
        self.stream.flush()


def _ok(status: int, answer: Any, what: str, allowed: tuple[int, ...] = (200, 201)) -> Any:
    if status not in allowed:
        raise RuntimeError(f"{what}: HTTP {status}: {json.dumps(answer)[:300] if answer is not None else ''}")
    return answer


@dataclass
class Credentials:
    workspace_id: str
    key: str  # a workspace API key
    shop_id: str
    shop_secret: str
    partner_key: str
    partner_secret: str


def run(
    client: Any,
    creds: Credentials,
    store: str,
    *,
    days: int = 90,
    customers: int = 300,
    seed: int = 1,
    now: datetime | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    send: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Send the plan; what was created and what was there already. ``send`` runs the scheduler
    (the local stack's ``/_local/invoke/SchedulerFunction``); without it the trackers stay
    scheduled until the stack's own schedule sends them."""
    progress = progress or (lambda *_: None)
    now = now or datetime.now(UTC)
    the_plan = plan(store, days, customers, seed, now)
    key = {"x-api-key": creds.key}
    summary: dict[str, Any] = {"store": store, "seed": seed, "drifting": len(the_plan.drifting)}

    # feedback, through the import (1,000 rows a request)
    rows, created, present = the_plan.feedback, 0, 0
    progress("feedback", 0, len(rows))
    for i in range(0, len(rows), 1000):
        chunk = rows[i : i + 1000]
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chunk)
        answer = _ok(
            *client.request(
                "POST", "/api/external/feedback/import", text=text, content_type="application/x-ndjson", headers=key
            ),
            "import",
        )
        created, present = created + answer["created"], present + answer["alreadyPresent"]
        progress("feedback", i + len(chunk), len(rows))
    civs = [r["civ"] for r in rows if r.get("civ")]
    per = Counter(civs)
    summary["feedback"] = {
        "rows": len(rows),
        "created": created,
        "alreadyPresent": present,
        "customers": len(per),
        "returningCustomers": sum(1 for n in per.values() if n > 1),
    }

    # NPS: the channels and categories, then the reviews not there yet
    for kind, codes in NPS_CODES.items():
        for code, name in codes:
            body = {"storeSlug": store, "code": code, "name": name}
            _ok(*client.request("POST", f"/api/nps/{kind}", body=body, headers=key), f"nps {kind}", (200, 201, 409))
    shop = {"shop_id": creds.shop_id, "shop_secret": creds.shop_secret}
    existing: Counter = Counter()
    cursor = None
    while True:
        query = {**shop, "limit": 1000, **({"cursor": cursor} if cursor else {})}
        status, answer = client.request("GET", "/nps/reviews", query=query)
        items = _ok(status, answer, "nps reviews")
        existing.update((r.get("rate"), r.get("channel"), r.get("category"), r.get("comment") or "") for r in items)
        cursor = client.headers.get("x-next-cursor")
        if not cursor:
            break
    made = 0
    progress("nps", 0, len(the_plan.nps))
    for n, review in enumerate(the_plan.nps, 1):
        fingerprint = (review["rate"], review["channel"], review["category"], review["comment"])
        if existing[fingerprint] > 0:
            existing[fingerprint] -= 1
        else:
            body = {**shop, **{k: v for k, v in review.items() if v != ""}}
            _ok(*client.request("POST", "/nps/create", body=body), "nps create")
            made += 1
        progress("nps", n, len(the_plan.nps))
    summary["nps"] = {"reviews": len(the_plan.nps), "created": made, "alreadyPresent": len(the_plan.nps) - made}

    # trackers: the survey once, the purchases (idempotent), one scheduler run, clicks and answers
    partner = {"X-API-KEY": creds.partner_key, "X-API-SECRET": creds.partner_secret}
    surveys = _ok(*client.request("GET", "/api/surveys", headers=key), "surveys")
    if not any(s.get("name") == SURVEY_NAME and s.get("storeSlug") == store for s in surveys.get("items", [])):
        body = {"storeSlug": store, "name": SURVEY_NAME, "sendingType": "email", "delayMinutes": 0}
        _ok(*client.request("POST", "/api/surveys", body=body, headers=key), "survey")
    purchases = the_plan.purchases
    progress("purchases", 0, len(purchases))
    for n, p in enumerate(purchases, 1):
        body = {k: v for k, v in p.items() if not k.startswith("_")}
        # 409: recorded by an earlier run (its purchasedAt was that run's time): nothing to do
        _ok(*client.request("POST", "/partners/purchases", body=body, headers=partner), "purchase", (200, 201, 409))
        progress("purchases", n, len(purchases))
    if send is not None:
        send()
    fate = {p["purchaseId"]: p for p in purchases}
    trackers: list[dict[str, Any]] = []
    ids = list(fate)
    for i in range(0, len(ids), 100):
        body = {"purchases": ids[i : i + 100], "limit": 100, "storeSlug": store}
        trackers += _ok(*client.request("POST", "/partners/survey-tracker/list", body=body, headers=partner), "list")[
            "items"
        ]
    clicks = answers = 0
    progress("trackers", 0, len(trackers))
    for n, t in enumerate(trackers, 1):
        p = fate.get(t.get("purchaseId") or t.get("purchase_id") or "")
        link = t.get("link")
        if p and link and p["_fate"] and t.get("status") == "sent":
            token = urllib.parse.urlparse(link).path.rstrip("/").rsplit("/", 1)[-1]
            status, _ = client.request("GET", f"/r/{token}")
            clicks += status in (200, 301, 302, 303, 307)
            if p["_fate"] == 2:
                body = {"token": token, "rating": p["_rating"]}
                status, _ = client.request("POST", "/api/external/public/submit", body=body)
                answers += status in (200, 201)
        progress("trackers", n, len(trackers))
    by_status = Counter(t.get("status") for t in trackers)
    summary["trackers"] = {
        "purchases": len(purchases),
        "trackers": len(trackers),
        "clickedNow": clicks,
        "answeredNow": answers,
        "statusBefore": dict(sorted(by_status.items(), key=lambda kv: str(kv[0]))),
    }
    return summary
