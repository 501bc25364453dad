"""``make soak`` (issue 18 part 6): the local stack under 50 concurrent clients for 2 minutes.

    .venv/bin/python -m bench.soak                    # 50 clients for 120 s
    .venv/bin/python -m bench.soak --seconds 30       # a short one

1. Starts ``make dev`` on a temporary data directory (bench.localstack's Stack: free ports,
   loopback only), bootstraps a store, an external survey, a purchase with its tracker and an NPS
   category and channel.
2. ``--clients`` threads for ``--seconds`` mix: token create + submit (each with a unique orderId
   and rating, remembered; one in ten submits is sent twice, as a client retrying would, and must
   be replayed: 200 with the first record), a submit the API must refuse (rating 0: 400), feedback
   search, the dashboard, tracker get, NPS categories and NPS create.
3. Verifies that every accepted submission (201, or a replayed 200) is stored exactly once (a
   search by its orderId finds one record, with its rating and id) and counted exactly once (the
   dashboard's totalFeedback rises by exactly the accepted count once the stream aggregator has
   caught up: polled for up to 60 s; an NPS review is a visit too, so the rise expected is the
   accepted submissions plus the NPS reviews saved, and GET /nps/reviews must list each of those).
4. Prints requests/s, p50 / p99 per route, responses other than the expected ones by route and
   status (target 0), lost and duplicated submissions (target 0); writes bench/results/soak.json.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.localstack import Stack, _pct  # noqa: E402 - after the path set-up, as a script

RESULTS = ROOT / "bench" / "results"
WORKSPACE, STORE = "7300", "soak-cafe"
CATCH_UP_SECONDS = 60


@dataclass
class Submission:
    order_id: str
    rating: int
    ids: set[str] = field(default_factory=set)  # the record ids the API answered with
    statuses: list[int] = field(default_factory=list)


class Soak:
    """The clients' shared state: timings, statuses and every accepted submission."""

    def __init__(self, stack: Stack, creds: dict[str, Any], tracker: str, codes: tuple[str, str]) -> None:
        self.stack = stack
        self.creds = creds
        self.tracker = tracker
        self.category, self.channel = codes
        self.key = {"x-api-key": creds["storeApiKey"]}
        self.partner = {"X-API-KEY": creds["partnerKey"], "X-API-SECRET": creds["partnerSecret"]}
        self.times: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.unexpected: Counter[tuple[str, int]] = Counter()
        self.accepted: dict[str, Submission] = {}
        self.replay_mismatches: list[str] = []
        self.nps_reviews = 0  # NPS reviews saved (200): each is a visit the dashboard counts too
        self.ended = time.monotonic()
        self.lock = threading.Lock()

    def _timed(self, route: str, method: str, path: str, expected: tuple[int, ...], **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            reply = self.stack.session.request(method, self.stack.base + path, timeout=60, **kwargs)
            status = reply.status_code
        except Exception:  # a refused or dropped connection: status 0
            reply, status = None, 0
        ms = (time.perf_counter() - began) * 1000
        with self.lock:
            self.times[route].append(ms)
            self.statuses[(route, status)] += 1
            if status not in expected:
                self.unexpected[(route, status)] += 1
        return reply

    # ---- the mix

    def step(self, rng: random.Random) -> None:
        kind = rng.random()
        if kind < 0.30:
            self.token_and_submit(rng)
        elif kind < 0.34:
            body = {"token": "tkn_" + "0" * 22, "rating": 0}
            self._timed("submit (invalid)", "POST", "/api/external/public/submit", (400,), json=body)
        elif kind < 0.50:
            with self.lock:
                order = rng.choice(list(self.accepted)) if self.accepted else "SOAK-none"
            params = {"storeSlug": STORE, "orderId": order}
            self._timed("search", "GET", "/api/external/feedback", (200,), params=params, headers=self.key)
        elif kind < 0.64:
            params = {"storeSlug": STORE}
            self._timed("dashboard", "GET", "/api/external/dashboard", (200,), params=params, headers=self.key)
        elif kind < 0.78:
            params = {"id": self.tracker}
            self._timed("tracker get", "GET", "/partners/survey-tracker", (200,), params=params, headers=self.partner)
        elif kind < 0.89:
            params = {"shop_id": self.creds["shopId"]}
            self._timed("nps categories", "GET", "/nps/categories", (200,), params=params)
        else:
            body = {
                "shop_id": self.creds["shopId"],
                "shop_secret": self.creds["shopSecret"],
                "channel": self.channel,
                "category": self.category,
                "rate": rng.randint(1, 10),
                "email": f"customer{rng.randint(1, 400)}@example.com",  # without a did: a contact
                "comment": "soak",
            }
            reply = self._timed("nps create", "POST", "/nps/create", (200,), json=body)
            if reply is not None and reply.status_code == 200:
                with self.lock:
                    self.nps_reviews += 1

    def token_and_submit(self, rng: random.Random) -> None:
        order = f"SOAK-{uuid.uuid4().hex[:16]}"
        body = {"storeSlug": STORE, "payload": {"orderId": order, "civ": f"CIV-{rng.randint(1, 400)}"}}
        reply = self._timed("token", "POST", "/api/external/token", (201,), json=body, headers=self.key)
        if reply is None or reply.status_code != 201:
            return
        answer = {"token": reply.json()["token"], "rating": rng.randint(1, 5)}
        sends = 2 if rng.random() < 0.1 else 1  # a client retrying: the second must be a replay
        submission = Submission(order, answer["rating"])
        for n in range(sends):
            expected = (201, 200) if n == 0 else (200,)
            reply = self._timed("submit", "POST", "/api/external/public/submit", expected, json=answer)
            if reply is None or reply.status_code not in (200, 201):
                continue
            submission.statuses.append(reply.status_code)
            submission.ids.add(reply.json()["id"])
        if submission.statuses:
            with self.lock:
                self.accepted[order] = submission
                if len(submission.ids) > 1:
                    self.replay_mismatches.append(order)

    def run(self, clients: int, seconds: float) -> dict[str, Any]:
        deadline = time.monotonic() + seconds

        def client(n: int) -> None:
            rng = random.Random(n)
            while time.monotonic() < deadline:
                self.step(rng)

        began = time.monotonic()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(client, range(clients)))
        self.ended = time.monotonic()
        elapsed = self.ended - began
        total = sum(len(v) for v in self.times.values())
        return {
            "clients": clients,
            "seconds": round(elapsed, 1),
            "requests": total,
            "requestsPerSecond": round(total / elapsed, 1),
            "routes": {
                route: {
                    "requests": len(t),
                    "p50Ms": round(_pct(t, 0.5), 1),
                    "p99Ms": round(_pct(t, 0.99), 1),
                    "statuses": {str(s): n for (r, s), n in sorted(self.statuses.items()) if r == route},
                }
                for route, t in sorted(self.times.items())
            },
            "unexpected": {f"{route} {status}": n for (route, status), n in sorted(self.unexpected.items())},
        }

    # ---- verification

    def verify(self, baseline: int) -> dict[str, Any]:
        """Each accepted submission stored once (a search by its orderId) and counted once."""
        lost, duplicated, wrong = [], [], []
        submissions = list(self.accepted.values())

        def check(sub: Submission) -> None:
            params = {"storeSlug": STORE, "orderId": sub.order_id, "limit": "10"}
            reply = self.stack.session.get(
                self.stack.base + "/api/external/feedback", params=params, headers=self.key, timeout=60
            )
            reply.raise_for_status()
            items = reply.json()["items"]
            with self.lock:
                if not items:
                    lost.append(sub.order_id)
                elif len(items) > 1:
                    duplicated.append(sub.order_id)
                elif items[0]["rating"] != sub.rating or items[0]["id"] not in sub.ids:
                    wrong.append(sub.order_id)

        began = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(check, submissions))
        searched = time.monotonic() - began
        reviews = self.stored_reviews()
        expected_total = baseline + len(submissions) + self.nps_reviews
        total, waited = self.total_feedback(), 0.0
        started = time.monotonic()
        while total != expected_total and waited < CATCH_UP_SECONDS:
            time.sleep(1)
            total, waited = self.total_feedback(), time.monotonic() - started
        return {
            "accepted": len(submissions),
            "replayed": sum(s.statuses.count(200) for s in submissions),
            "lost": len(lost),
            "duplicated": len(duplicated),
            "wrongRecord": len(wrong),
            "replayMismatches": len(self.replay_mismatches),
            "examples": {"lost": lost[:10], "duplicated": duplicated[:10], "wrongRecord": wrong[:10]},
            "searchSeconds": round(searched, 1),
            "npsReviews": self.nps_reviews,
            "npsReviewsStored": reviews,
            "dashboardBaseline": baseline,
            "dashboardTotal": total,
            "dashboardExpected": expected_total,
            "counted": total - baseline,
            "expectedCount": len(submissions) + self.nps_reviews,
            "catchUpSeconds": round(waited, 1),  # polling, after the searches
            "aggregatorLagSeconds": round(time.monotonic() - self.ended, 1),  # from the load's end
        }

    def stored_reviews(self) -> int:
        """The store's NPS reviews, every page of GET /nps/reviews."""
        count, params = 0, {"shop_id": self.creds["shopId"], "shop_secret": self.creds["shopSecret"]}
        while True:
            reply = self.stack.session.get(self.stack.base + "/nps/reviews", params=params, timeout=60)
            reply.raise_for_status()
            count += len(reply.json())
            cursor = reply.headers.get("X-Next-Cursor")
            if not cursor:
                return count
            params = {**params, "cursor": cursor}

    def total_feedback(self) -> int:
        reply = self.stack.session.get(
            self.stack.base + "/api/external/dashboard", params={"storeSlug": STORE}, headers=self.key, timeout=60
        )
        reply.raise_for_status()
        return int(reply.json()["totalFeedback"])


def _setup(stack: Stack) -> tuple[dict[str, Any], str, tuple[str, str]]:
    """A store with its credentials, an external survey, a purchase and its tracker, and an NPS
    category and channel."""
    creds = json.loads(stack.cli("bootstrap", "--workspace-id", WORKSPACE, "--store", STORE, "--json"))
    owner = {"Authorization": f"Bearer {creds['ownerToken']}", "x-workspace-id": WORKSPACE}
    partner = {"X-API-KEY": creds["partnerKey"], "X-API-SECRET": creds["partnerSecret"]}

    def post(path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
        reply = stack.session.post(stack.base + path, json=body, headers=headers, timeout=60)
        if reply.status_code >= 300:
            raise SystemExit(f"setup: POST {path} answered {reply.status_code}: {reply.text[:300]}")
        return reply.json()

    post("/api/surveys", {"storeSlug": STORE, "name": "Soak", "sendingType": "external"}, owner)
    purchased = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds").replace("+00:00", "Z")
    purchase = {"purchaseId": "SOAK-P-1", "customerId": "C-1", "storeSlug": STORE, "purchasedAt": purchased}
    post("/partners/purchases", purchase, partner)
    generated = post("/partners/survey-tracker/generate", {"purchaseId": "SOAK-P-1"}, partner)
    codes = ("soak-cat", "soak-chan")
    for kind, code in zip(("categories", "channels"), codes, strict=True):
        post(f"/api/nps/{kind}", {"storeSlug": STORE, "code": code, "name": code}, owner)
    return creds, generated["items"][0]["id"], codes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=120, help="length of the mixed load")
    parser.add_argument("--containers", type=int, default=2, help="REVISIT_MAX_CONTAINERS of the stack")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="revisit-soak-") as tmp:
        stack = Stack(Path(tmp), args.containers)
        host = urlsplit(stack.base).hostname or ""
        if not ipaddress.ip_address(host).is_loopback:
            raise SystemExit(f"the soak runs on loopback only, not {host}")
        try:
            result: dict[str, Any] = {"startup": stack.start()}
            creds, tracker, codes = _setup(stack)
            soak = Soak(stack, creds, tracker, codes)
            baseline = soak.total_feedback()
            result["load"] = soak.run(args.clients, args.seconds)
            result["verification"] = soak.verify(baseline)
        finally:
            stack.stop()
    result["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(result, indent=2))
    print(render(result))
    return 0 if passed(result) else 1


def passed(r: dict[str, Any]) -> bool:
    v = r["verification"]
    return (
        not r["load"]["unexpected"]
        and v["lost"] == v["duplicated"] == v["wrongRecord"] == v["replayMismatches"] == 0
        and v["counted"] == v["expectedCount"]
        and v["npsReviewsStored"] == v["npsReviews"]
    )


def render(r: dict[str, Any]) -> str:
    load, v = r["load"], r["verification"]
    rows = [
        ("make dev -> every function warm", f"{r['startup']['warmSeconds']:.1f} s"),
        (
            f"{load['clients']} clients, {load['seconds']:.0f} s",
            f"{load['requestsPerSecond']} req/s, {load['requests']:,} requests",
        ),
        ("unexpected responses (target 0)", ", ".join(f"{k}: {n}" for k, n in load["unexpected"].items()) or "0"),
        (
            "accepted submissions",
            f"{v['accepted']:,} ({v['replayed']} retries answered as replays)",
        ),
        (
            "stored once (search by orderId)",
            f"lost {v['lost']}, duplicated {v['duplicated']}, wrong record {v['wrongRecord']}, "
            f"replay with another id {v['replayMismatches']}",
        ),
        ("NPS reviews saved / stored", f"{v['npsReviews']:,} / {v['npsReviewsStored']:,}"),
        (
            "counted once (dashboard)",
            f"totalFeedback {v['dashboardBaseline']} -> {v['dashboardTotal']} (+{v['counted']}, expected "
            f"+{v['expectedCount']}: submissions + NPS reviews; {v['aggregatorLagSeconds']} s after the load)",
        ),
    ]
    rows += [
        (
            f"  {route}",
            f"{s['requests']:,} req, p50 {s['p50Ms']} ms, p99 {s['p99Ms']} ms, "
            + ", ".join(f"{code}: {n}" for code, n in s["statuses"].items()),
        )
        for route, s in load["routes"].items()
    ]
    width = max(len(a) for a, _ in rows)
    verdict = "PASSED" if passed(r) else "FAILED"
    return "\n".join(["", f"Soak (bench/soak.py): {verdict}", *(f"  {a:<{width}}  {b}" for a, b in rows)])


if __name__ == "__main__":
    sys.exit(main())
