"""A customer's data at a store: access and erasure (issue 18 part 5, docs/operations.md).

A customer is a civ at one store. Their data: feedback records with that civ, NPS reviews with it
as loyalty_id, one-time tokens whose payload names it, trackers and purchases with it as
``customerId``, the store's opt-out of that id, and the aggregator's state of them (customer
state, customer-day activity, watch-list entry). Every item is found through a key or an index
(docs/data-model.md "Privacy"): no Scan.

Erasure adjusts every counter exactly. The customer's counted visits are replayed through the
aggregator's own rules (:func:`revisit.domain.analytics.plan`) from an empty state; the sums of
every ``*_deltas`` field of the changes (day counters, hour counters, whatever the aggregator
adds later) are subtracted, in the transaction(s) that delete the customer state, activity and
watch-list items and write the tombstone. The replay must end in exactly the stored customer
state, else the aggregator is mid-way (a record being counted) and the plan is made again.

Which visits were counted: a record whose applied-marker exists (and was not claimed by an
erasure); a record older than the marker's life (8 days, far beyond the stream's 24 h) without
one. A record without a marker that is younger is in flight: the erasure *claims* it (puts its
marker, so the aggregator's transaction for it fails and it is never counted) and subtracts
nothing for it. Records at or before an earlier erasure's time were dealt with by that one.

After an erasure the tombstone (``AGGTOMB#ws#store#<keyed hash>``: the hash and the time, never
the civ) makes the aggregator skip any record of the civ created at or before the erasure time (a
record in flight, a late one). A NEW answer with that civ after the erasure time is a new
customer: its first visit, counted from an empty state (which remembers the erasure time, so an
older record can still not join it).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import fields
from datetime import timedelta
from typing import Any

from revisit.dal import feedback as feedback_dal
from revisit.dal import keys
from revisit.dal import nps as nps_dal
from revisit.dal import privacy as dal
from revisit.dal import purchases as purchases_dal
from revisit.dal import tokens as tokens_dal
from revisit.dal import trackers as trackers_dal
from revisit.dal import unsubscribes as unsubscribes_dal
from revisit.dal.analytics import get_customer
from revisit.domain import analytics, nps, workspaces
from revisit.domain.auth import Principal
from revisit.domain.util import iso, now, parse_iso
from revisit.errors import Conflict, NotFound

ATTEMPTS = 8  # plans made again when the aggregator moves the customer meanwhile
_STATE_FIELDS = ("civ", "visitCount", "ratingSum", "firstVisitAt", "firstRating", "firstFeedbackId", "recent")
_TOKEN_HIDDEN = ("token", "submitHash")  # a token's value is a bearer capability: not exported


def _not_found(civ: str) -> NotFound:
    return NotFound("No data for this customer at this store.", [{"field": "civ", "message": "unknown customer"}])


def _store(principal: Principal, civ: str, store_slug: str, contacts: Iterable[str] = ()) -> tuple[str, list[int]]:
    """The caller's workspace, if it may see the store (else the same 404 as an unknown store: a
    key of another store learns nothing about this one), and the reviewer numbers of ``contacts``
    at the store's shop (revisit.domain.nps.client_number)."""
    if not principal.can_access_store(store_slug):
        raise _not_found(civ)
    try:
        store = workspaces.get_store(principal.workspace_id, store_slug)
    except NotFound:
        raise _not_found(civ) from None
    shop = store.get("shopId")
    return principal.workspace_id, [nps.client_number(shop, c) for c in contacts] if shop else []


class _Found:
    """Every raw item of the customer at the store, as stored (with keys)."""

    def __init__(self, ws: str, store: str, civ: str, clients: list[int] | None = None) -> None:
        self.feedback = feedback_dal.of_customer(ws, store, civ)
        self.reviews = nps_dal.reviews_of_customer(ws, store, civ)
        if clients:  # their reviews by contact: without a loyalty_id, or with theirs
            known = {(r[keys.PK], r[keys.SK]) for r in self.reviews}
            for review in nps_dal.reviews_of_contacts(ws, store, clients):
                if review.get("civ") in (None, civ) and (review[keys.PK], review[keys.SK]) not in known:
                    self.reviews.append(review)
                    known.add((review[keys.PK], review[keys.SK]))
        self.trackers = trackers_dal.of_customer(ws, store, civ)
        self.tokens = tokens_dal.of_customer(ws, store, civ)
        known = {t["token"] for t in self.tokens}
        for tracker in self.trackers:  # a token written before gsi1 existed: through its tracker
            if tracker.get("token") and tracker["token"] not in known:
                token = tokens_dal.get(tracker["token"])
                if token is not None:
                    self.tokens.append(token)
                    known.add(tracker["token"])
        self.purchases = purchases_dal.of_customer(ws, store, civ)
        self.unsubscribes = unsubscribes_dal.of_customer(ws, store, civ)

    def responses(self) -> list[dict[str, Any]]:
        return [*self.feedback, *self.reviews]

    def empty(self) -> bool:
        return not any((self.feedback, self.reviews, self.trackers, self.tokens, self.purchases, self.unsubscribes))

    def item_keys(self, erased_at: str) -> list[dict[str, str]]:
        """The keys to delete: the answers up to the erasure time (a later one is a new customer's),
        everything else found."""
        out = [_key(i) for i in self.responses() if str(i.get("createdAt", "")) <= erased_at]
        for tracker in self.trackers:
            out.append(_key(tracker))
            out.append(trackers_dal.unique_key(tracker))
        out.extend(keys.token(t["token"]) for t in self.tokens)
        out.extend(keys.purchase(p["workspaceId"], p["storeSlug"], p["purchaseId"]) for p in self.purchases)
        out.extend(_key(u) for u in self.unsubscribes)
        return out


def _key(item: dict[str, Any]) -> dict[str, str]:
    return {keys.PK: item[keys.PK], keys.SK: item[keys.SK]}


def _plain(item: dict[str, Any], hidden: Iterable[str] = ()) -> dict[str, Any]:
    drop = {*keys.HIDDEN, "commentLc", keys.TTL, keys.VALID_UNTIL, *hidden}
    return {k: v for k, v in item.items() if k not in drop}


def _watch(state: dict[str, Any] | None) -> dict[str, Any] | None:
    return analytics.watch_entry(state) if state else None


# ------------------------------------------------------------------ access


def export_customer(principal: Principal, civ: str, store_slug: str, contacts: Iterable[str] = ()) -> dict[str, Any]:
    """GET /api/external/customers/{civ}?storeSlug=: everything held about the customer there
    (``contacts``: their email / phone as NPS reviewer identities, for reviews without loyalty_id)."""
    ws, clients = _store(principal, civ, store_slug, contacts)
    found = _Found(ws, store_slug, civ, clients)
    state = get_customer(ws, store_slug, civ)
    tombstone = dal.get_tombstone(ws, store_slug, analytics.erasure_hash(ws, store_slug, civ))
    if found.empty() and state is None and tombstone is None:
        raise _not_found(civ)
    days = sorted({str(r["createdAt"])[:10] for r in found.responses() if r.get("createdAt")})
    return {
        "civ": civ,
        "storeSlug": store_slug,
        "feedback": [feedback_dal.public(i) for i in found.feedback],
        "npsReviews": [{k: v for k, v in i.items() if k in nps_dal.REVIEW_FIELDS} for i in found.reviews],
        "trackers": [_plain(t, ("contact", keys.CONTACT_UNTIL)) | _contact(t) for t in found.trackers],
        "tokens": [_plain(t, _TOKEN_HIDDEN) for t in found.tokens],
        "purchases": [_plain(p) for p in found.purchases],
        "unsubscribes": [_plain(u) | {"kind": u[keys.SK].split("#", 1)[0]} for u in found.unsubscribes],
        "loyalty": {
            "customer": {k: state[k] for k in _STATE_FIELDS if k in state} if state else None,
            "daysWithVisits": days,
            "watchList": _watch(state),
        },
        "erasure": {"erasedAt": tombstone["erasedAt"], "status": tombstone["status"]} if tombstone else None,
    }


def _contact(tracker: dict[str, Any]) -> dict[str, Any]:
    """A tracker's raw contact while a send still needs it (past contactUntilEpoch it is gone)."""
    until = tracker.get(keys.CONTACT_UNTIL)
    if tracker.get("contact") and (until is None or until > time.time()):
        return {"contact": tracker["contact"]}
    return {}


# ------------------------------------------------------------------ erasure


def _counted(
    responses: list[dict[str, Any]], markers: dict[tuple[str, str], dict[str, Any]], previous_at: str | None, at: str
) -> tuple[list[analytics.Visit], list[list[str]]]:
    """(the visits the aggregates hold, the records to claim) among the answers up to ``at``."""
    counted, claims = [], []
    young = iso(parse_iso(at) - analytics.MARKER_TTL)
    for item in responses:
        try:
            visit = analytics.visit_of("INSERT", item)
        except analytics.InvalidRecord:
            continue  # the aggregator never counted it either
        if visit is None or visit.at > at:
            continue  # a new customer's answer, after the erasure time
        if previous_at is not None and visit.at <= previous_at:
            continue  # the earlier erasure subtracted or claimed it
        marker = markers.get((visit.source, visit.id))
        if marker is not None:
            if not marker.get("erased"):
                counted.append(visit)
        elif visit.at >= young:
            claims.append([visit.source, visit.id])  # in flight: never to be counted
        else:
            counted.append(visit)  # its marker has expired: it was counted long ago
    return sorted(counted, key=lambda v: v.order), claims


def _negated(visits: list[analytics.Visit]) -> tuple[dict[str, dict[str, dict[str, int]]], dict[str, Any] | None]:
    """The counters' sums of the visits replayed from an empty state (negated), and the state the
    replay ends in."""
    sums: dict[str, dict[str, dict[str, int]]] = {}
    state: dict[str, Any] | None = None
    for visit in visits:
        change = analytics.plan(state, visit, now())
        for f in fields(change):
            if not f.name.endswith("_deltas"):
                continue
            target = sums.setdefault(f.name, {})
            for day, counters in getattr(change, f.name).items():
                bucket = target.setdefault(day, {})
                for name, delta in counters.items():
                    bucket[name] = bucket.get(name, 0) - delta
        if visit.civ is not None:
            state = change.customer
    cleaned = {
        name: {day: {k: v for k, v in c.items() if v} for day, c in days.items() if any(c.values())}
        for name, days in sums.items()
    }
    return {name: days for name, days in cleaned.items() if days}, state


def _matches(replayed: dict[str, Any] | None, stored: dict[str, Any] | None) -> bool:
    if replayed is None or stored is None:
        return replayed is None and stored is None
    return all(replayed.get(k) == stored.get(k) for k in _STATE_FIELDS)


def _plan(ws: str, store: str, civ: str, found: _Found, previous: dict[str, Any] | None) -> dal.Plan:
    at = now()
    erased_at = iso(at)
    responses = found.responses()
    refs = []
    for item in responses:
        source = analytics.SOURCE_NPS_REVIEW if item.get(keys.TYPE) == "nps_review" else analytics.SOURCE_FEEDBACK
        refs.append((source, str(item.get("id"))))
    state = get_customer(ws, store, civ)
    markers = dal.markers(refs)
    counted, claims = _counted(responses, markers, previous["erasedAt"] if previous else None, erased_at)
    deltas, replayed = _negated(counted)
    if not _matches(replayed, state):
        raise dal.Contention()  # a record is being counted right now: plan again
    watch = _watch(state)
    return dal.Plan(
        erased_at=erased_at,
        marker_expires_epoch=int((at + analytics.MARKER_TTL + timedelta(days=1)).timestamp()),
        deltas=deltas,
        visits=len(counted),
        activity_days=sorted({v.day for v in counted}),
        watch_day=watch["lastVisitAt"][:10] if watch else None,
        state_version=int(state["version"]) if state else None,
        claims=claims,
    )


def erase_customer(principal: Principal, civ: str, store_slug: str, contacts: Iterable[str] = ()) -> dict[str, Any]:
    """DELETE /api/external/customers/{civ}?storeSlug=: erase the customer's data at the store and
    subtract them from every aggregate, exactly; a retry or a second call changes nothing more."""
    ws, clients = _store(principal, civ, store_slug, contacts)
    civ_hash = analytics.erasure_hash(ws, store_slug, civ)
    transactions, subtracted, claimed = 0, 0, 0
    for attempt in range(ATTEMPTS):
        tombstone = dal.get_tombstone(ws, store_slug, civ_hash)
        found = _Found(ws, store_slug, civ, clients)
        try:
            if tombstone is not None and tombstone.get("status") == "running":
                plan = dal.plan_of(tombstone)  # an interrupted erasure: finish it first
                transactions += dal.run(ws, store_slug, civ, civ_hash, plan, None, int(tombstone["cursor"]))
                continue  # then look again: anything left is deleted by a fresh pass
            if found.empty() and get_customer(ws, store_slug, civ) is None:
                if tombstone is None:
                    raise _not_found(civ)
                return _answer(store_slug, tombstone["erasedAt"], {}, transactions, subtracted, claimed)
            plan = _plan(ws, store_slug, civ, found, tombstone)
            transactions += dal.run(ws, store_slug, civ, civ_hash, plan, tombstone)
        except (dal.TombstoneMoved, dal.Contention):
            time.sleep(min(1.0, 0.05 * 2**attempt))
            continue
        subtracted += plan.visits
        claimed += len(plan.claims)
        found = _Found(ws, store_slug, civ, clients)  # what exists now (an answer may have come meanwhile)
        deleted = _delete(found, plan.erased_at)
        return _answer(store_slug, plan.erased_at, deleted, transactions, subtracted, claimed)
    raise Conflict(
        "The customer's answers are being counted right now; retry in a few seconds.",
        [{"field": "civ", "message": "busy"}],
    )


def _delete(found: _Found, erased_at: str) -> dict[str, int]:
    item_keys = found.item_keys(erased_at)
    dal.delete_items(item_keys)
    return {
        "feedback": sum(1 for i in found.feedback if str(i.get("createdAt", "")) <= erased_at),
        "npsReviews": sum(1 for i in found.reviews if str(i.get("createdAt", "")) <= erased_at),
        "trackers": len(found.trackers),
        "tokens": len(found.tokens),
        "purchases": len(found.purchases),
        "unsubscribes": len(found.unsubscribes),
    }


def _answer(
    store_slug: str, erased_at: str, deleted: dict[str, int], transactions: int, visits: int, claimed: int
) -> dict[str, Any]:
    counts = {
        k: deleted.get(k, 0) for k in ("feedback", "npsReviews", "trackers", "tokens", "purchases", "unsubscribes")
    }
    return {
        "storeSlug": store_slug,
        "erasedAt": erased_at,
        "deleted": counts,
        "aggregates": {"transactions": transactions, "visitsSubtracted": visits, "recordsClaimed": claimed},
    }
