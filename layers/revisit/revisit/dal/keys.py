"""Every key and index name of the single table, in one place (see docs/data-model.md).

Key values are built only here so that a change of layout is a change of this file.
"""

from __future__ import annotations

PK = "pk"
SK = "sk"
GSI1 = "gsi1"  # gsi1pk / gsi1sk: look-ups by a secondary identity (order id, tracker lists, ...)
GSI2 = "gsi2"  # gsi2pk / gsi2sk: a second look-up (civ, ...)
GSI3 = "gsi3"  # gsi3pk / gsi3sk: workspace-wide time lines
GSI4 = "gsi4"  # gsi4pk / gsi4sk (keys only): the scheduler's due index; a feedback record by id
INDEX_KEYS = tuple(f"gsi{n}{part}" for n in range(1, 5) for part in ("pk", "sk"))
TYPE = "type"  # the item type: what a stream consumer filters on
HIDDEN = (PK, SK, *INDEX_KEYS, TYPE)  # attributes the data layer never hands out
TTL = "expiresAtEpoch"  # DynamoDB TTL (epoch seconds); on a one-time token also its expiry
VALID_UNTIL = "validUntilEpoch"  # a campaign token's expiry (not TTL: its use count is history)
CONTACT_UNTIL = "contactUntilEpoch"  # a tracker's raw contact counts as gone after this (epoch s)
META = "META"


def workspace(workspace_id: str) -> dict[str, str]:
    return {PK: f"WS#{workspace_id}", SK: META}


def store(workspace_id: str, slug: str) -> dict[str, str]:
    return {PK: f"WS#{workspace_id}", SK: f"STORE#{slug}"}


def store_prefix() -> str:
    return "STORE#"


def shop(shop_id: str) -> dict[str, str]:
    return {PK: f"SHOP#{shop_id}", SK: META}


def key_registry(workspace_id: str, key_id: str) -> dict[str, str]:
    return {PK: f"WS#{workspace_id}", SK: f"KEY#{key_id}"}


def key_registry_prefix() -> str:
    return "KEY#"


def credential(secret_hash: str) -> dict[str, str]:
    return {PK: f"CRED#{secret_hash}", SK: META}


def ws_pk(workspace_id: str) -> str:
    return f"WS#{workspace_id}"


def token(token_value: str) -> dict[str, str]:
    return {PK: f"TOKEN#{token_value}", SK: META}


def idempotency(workspace_id: str, store_slug: str, key_hash: str) -> dict[str, str]:
    """An Idempotency-Key's record, scoped to the store the request is for."""
    return {PK: f"IDEM#{workspace_id}#{store_slug}#{key_hash}", SK: META}


def submit_idempotency(token_value: str, key_hash: str) -> dict[str, str]:
    """A submit's Idempotency-Key record (campaign tokens), scoped to the token it was sent with.
    Not under ``IDEM#``: migration 0002 reads that prefix as ``IDEM#<ws>#...``."""
    return {PK: f"SUBIDEM#{token_value}#{key_hash}", SK: META}


def legacy_idempotency(workspace_id: str, key_hash: str) -> dict[str, str]:
    """The workspace-scoped key of before the store scoping (read by the migration only)."""
    return {PK: f"IDEM#{workspace_id}#{key_hash}", SK: META}


def campaign(workspace_id: str, campaign_id: str) -> dict[str, str]:
    return {PK: f"WS#{workspace_id}", SK: f"CAMPAIGN#{campaign_id}"}


def campaign_prefix() -> str:
    return "CAMPAIGN#"


# Feedback: the store's time line is the base table; order id, civ and the workspace-wide time
# line are sparse GSIs. Sort keys are "<createdAt>#<id>" so date ranges are key conditions.
def feedback(workspace_id: str, store_slug: str, created_at: str, feedback_id: str) -> dict[str, str]:
    return {PK: feedback_store_pk(workspace_id, store_slug), SK: f"{created_at}#{feedback_id}"}


def feedback_store_pk(workspace_id: str, store_slug: str) -> str:
    return f"FB#{workspace_id}#{store_slug}"


def feedback_order_pk(workspace_id: str, order_id: str) -> str:
    return f"FBORDER#{workspace_id}#{order_id}"


def feedback_civ_pk(workspace_id: str, civ: str) -> str:
    return f"FBCIV#{workspace_id}#{civ}"


def feedback_workspace_pk(workspace_id: str) -> str:
    return f"FBWS#{workspace_id}"


def feedback_id_pk(workspace_id: str, feedback_id: str) -> str:
    """gsi4 (keys only) of a feedback record: its id -> its key (the inbox's PATCH and detail page)."""
    return f"FBID#{workspace_id}#{feedback_id}"


# Partner survey trackers (seed 001). Trackers use gsi1 (workspace time line by sendAt), gsi2 (by
# purchase), gsi3 (by customer) and the sparse gsi4 (due sends, for the scheduler).
def survey(workspace_id: str, survey_id: str) -> dict[str, str]:
    return {PK: f"WS#{workspace_id}", SK: f"SURVEY#{survey_id}"}


def survey_prefix() -> str:
    return "SURVEY#"


def purchase(workspace_id: str, store_slug: str, purchase_id: str) -> dict[str, str]:
    """A purchase: its id is the store's (two stores may number their orders alike)."""
    return {PK: f"PURCHASE#{workspace_id}#{store_slug}#{purchase_id}", SK: META}


def legacy_purchase(workspace_id: str, purchase_id: str) -> dict[str, str]:
    """The workspace-scoped key of before the store scoping (read by the migration only)."""
    return {PK: f"PURCHASE#{workspace_id}#{purchase_id}", SK: META}


def purchase_id_pk(workspace_id: str, purchase_id: str) -> str:
    """gsi1 of a purchase (sk: its store): the stores of a workspace that recorded this id."""
    return f"PURCHASEID#{workspace_id}#{purchase_id}"


def tracker(tracker_id: str) -> dict[str, str]:
    return {PK: f"TRACKER#{tracker_id}", SK: META}


def tracker_unique(workspace_id: str, survey_id: str, purchase_id: str) -> dict[str, str]:
    return {PK: f"TRKUNIQ#{workspace_id}#{survey_id}#{purchase_id}", SK: META}


def tracker_click(tracker_id: str, visitor_hash: str) -> dict[str, str]:
    return {PK: f"CLICK#{tracker_id}#{visitor_hash}", SK: META}


def tracker_workspace_pk(workspace_id: str) -> str:
    return f"TRK#{workspace_id}"


def tracker_purchase_pk(workspace_id: str, purchase_id: str) -> str:
    return f"TRKPUR#{workspace_id}#{purchase_id}"


def tracker_customer_pk(workspace_id: str, customer_id: str) -> str:
    return f"TRKCUS#{workspace_id}#{customer_id}"


DUE_PK = "DUE"


# The tracker report (issue 16 part 4): one item per store and day whose counters are ADDed in the
# same write that moves a tracker (sent, first click, completed).
def tracker_report_pk(workspace_id: str, store_slug: str) -> str:
    return f"TRKRPT#{workspace_id}#{store_slug}"


def tracker_report_day(workspace_id: str, store_slug: str, day: str) -> dict[str, str]:
    return {PK: tracker_report_pk(workspace_id, store_slug), SK: f"DAY#{day}"}


def tracker_report_range(day_from: str, day_to: str) -> tuple[str, str]:
    """Inclusive sort-key bounds of the report items of days ``day_from``..``day_to``."""
    return f"DAY#{day_from}", f"DAY#{day_to}"


# Imported feedback (issue 16 part 5): one key item per (workspace, externalId), written in the
# same transaction as the record, so an import retried or resumed never stores a row twice.
def import_key(workspace_id: str, external_id: str) -> dict[str, str]:
    return {PK: f"IMPORT#{workspace_id}#{external_id}", SK: META}


# CIV loyalty analytics (seed 000), written only by the stream aggregator. One partition per store
# holds its day counters (DAY#day), customer states (CIV#civ) and watch list (WATCH#day#civ, keyed
# by the day of the customer's latest visit so a period's entries are one range); customer
# activity per day lives in a second partition so a day range of it is one key condition.
# None of these items carries type 'feedback'/'nps_review' (the aggregator's stream filter).
def agg_store_pk(workspace_id: str, store_slug: str) -> str:
    return f"AGG#{workspace_id}#{store_slug}"


def agg_day(workspace_id: str, store_slug: str, day: str) -> dict[str, str]:
    return {PK: agg_store_pk(workspace_id, store_slug), SK: f"DAY#{day}"}


def agg_day_range(day_from: str, day_to: str) -> tuple[str, str]:
    """Inclusive sort-key bounds of the day counters of days ``day_from``..``day_to``."""
    return f"DAY#{day_from}", f"DAY#{day_to}"


def agg_hours(workspace_id: str, store_slug: str, day: str) -> dict[str, str]:
    """A store's hour counters of one UTC day (``hHH:<counter>`` attributes): the series' buckets.
    ``HOURS#`` sorts apart from ``DAY#``, so the day counters' ranges never read it."""
    return {PK: agg_store_pk(workspace_id, store_slug), SK: f"HOURS#{day}"}


def agg_hours_range(day_from: str, day_to: str) -> tuple[str, str]:
    """Inclusive sort-key bounds of the hour counters of UTC days ``day_from``..``day_to``."""
    return f"HOURS#{day_from}", f"HOURS#{day_to}"


def agg_civ_part(civ: str) -> str:
    """A civ as a key part. A civ may be 256 characters of up to 4 UTF-8 bytes each; a sort key
    holds 1024 bytes, so a civ longer than 512 bytes is keyed by its SHA-256 (the items keep the
    civ itself in their ``civ`` attribute)."""
    raw = civ.encode()
    if len(raw) <= 512:
        return civ
    import hashlib

    return "#sha256:" + hashlib.sha256(raw).hexdigest()


def agg_customer(workspace_id: str, store_slug: str, civ: str) -> dict[str, str]:
    return {PK: agg_store_pk(workspace_id, store_slug), SK: f"CIV#{agg_civ_part(civ)}"}


def agg_watch(workspace_id: str, store_slug: str, last_visit_day: str, civ: str) -> dict[str, str]:
    """A watch-list entry, keyed by the day (YYYY-MM-DD) of the customer's latest visit."""
    return {PK: agg_store_pk(workspace_id, store_slug), SK: f"WATCH#{last_visit_day}#{agg_civ_part(civ)}"}


def agg_watch_range(day_from: str, day_to: str) -> tuple[str, str]:
    """Inclusive sort-key bounds of the watch-list entries whose latest visit is in the period
    ("$" sorts after "#", so every civ of ``day_to`` is inside)."""
    return f"WATCH#{day_from}#", f"WATCH#{day_to}$"


def agg_activity_pk(workspace_id: str, store_slug: str) -> str:
    return f"AGGACT#{workspace_id}#{store_slug}"


def agg_activity(workspace_id: str, store_slug: str, day: str, civ: str) -> dict[str, str]:
    return {PK: agg_activity_pk(workspace_id, store_slug), SK: f"DAY#{day}#CIV#{agg_civ_part(civ)}"}


def agg_activity_range(day_from: str, day_to: str) -> tuple[str, str]:
    """Inclusive bounds of every activity item of days ``day_from``..``day_to``, whatever the civ:
    '$' is the character after '#', so ``DAY#<to>$`` sorts after every ``DAY#<to>#...``."""
    return f"DAY#{day_from}#", f"DAY#{day_to}$"


def agg_marker(source: str, record_id: str) -> dict[str, str]:
    """'This source record was applied': written with the counters, in the same transaction."""
    return {PK: f"AGGMARK#{source}#{record_id}", SK: META}


def unsubscribe(workspace_id: str, store: str, kind: str, value: str) -> dict[str, str]:
    """Opt-out of one identity (kind: CUS / EMAIL / PHONE) for a store, or '*' for all stores."""
    return {PK: f"UNSUB#{workspace_id}#{store}", SK: f"{kind}#{value}"}


# NPS (seed 002): a shop's categories and channels live in its SHOP#<shopId> partition beside the
# shop item, so one Query answers "shop exists + its active categories/channels".
def nps_config_pk(shop_id: str) -> str:
    return f"SHOP#{shop_id}"


def nps_category(shop_id: str, code: str) -> dict[str, str]:
    return {PK: nps_config_pk(shop_id), SK: f"CAT#{code}"}


def nps_channel(shop_id: str, code: str) -> dict[str, str]:
    return {PK: nps_config_pk(shop_id), SK: f"CHAN#{code}"}


def migration(migration_id: str) -> dict[str, str]:
    """A migration's marker: its cursor while it runs, ``applied`` once done."""
    return {PK: f"MIGRATION#{migration_id}", SK: META}


def nps_init_counter(shop_id: str, address_hash: str, hour: str) -> dict[str, str]:
    """GET /nps/init's counter of one client address (a hash) for a shop and UTC hour (YYYYMMDDHH)."""
    return {PK: f"NPSINIT#{shop_id}#{address_hash}", SK: f"H#{hour}"}


def device(did: str) -> dict[str, str]:
    return {PK: f"DID#{did}", SK: META}


def nps_review(workspace_id: str, store_slug: str, created_at: str, review_id: int) -> dict[str, str]:
    return {PK: nps_store_pk(workspace_id, store_slug), SK: f"{created_at}#{review_id:016d}"}


def nps_store_pk(workspace_id: str, store_slug: str) -> str:
    return f"NPS#{workspace_id}#{store_slug}"


def nps_channel_pk(workspace_id: str, store_slug: str, channel: str) -> str:
    return f"NPSCH#{workspace_id}#{store_slug}#{channel}"


def nps_category_pk(workspace_id: str, store_slug: str, category: str) -> str:
    return f"NPSCAT#{workspace_id}#{store_slug}#{category}"


# Webhooks (docs/webhooks.md): a workspace's endpoints live in its WS# partition (one Query lists
# them, as the integration-events consumer does per stream record); each endpoint's delivery log
# is its own partition, sorted by delivery id (which starts with the time, so newest first and
# "since" are key conditions).
def webhook(workspace_id: str, webhook_id: str) -> dict[str, str]:
    return {PK: f"WS#{workspace_id}", SK: f"WEBHOOK#{webhook_id}"}


def webhook_prefix() -> str:
    return "WEBHOOK#"


def webhook_delivery_pk(workspace_id: str, webhook_id: str) -> str:
    return f"WHDEL#{workspace_id}#{webhook_id}"


def webhook_delivery(workspace_id: str, webhook_id: str, delivery_id: str) -> dict[str, str]:
    return {PK: webhook_delivery_pk(workspace_id, webhook_id), SK: f"DEL#{delivery_id}"}


def webhook_delivery_prefix() -> str:
    return "DEL#"


# People of the web app (issue 17, docs/data-model.md "Users and sign-in"): a workspace's users live
# in its WS# partition; an address's memberships are one partition keyed by a keyed hash of the
# address (so one Query answers "which workspaces may this address sign in to"); a sign-in link
# is its own item keyed by the hash of its token (deleted when used: single use); link requests
# are counted per address and clock hour; the audit log is one partition per workspace, by time.
def user(workspace_id: str, user_id: str) -> dict[str, str]:
    return {PK: f"WS#{workspace_id}", SK: f"USER#{user_id}"}


def user_prefix() -> str:
    return "USER#"


def user_email_pk(email_hash: str) -> str:
    return f"USEREMAIL#{email_hash}"


def user_email(email_hash: str, workspace_id: str) -> dict[str, str]:
    return {PK: user_email_pk(email_hash), SK: f"WS#{workspace_id}"}


def signin_link(token_hash: str) -> dict[str, str]:
    return {PK: f"SIGNIN#{token_hash}", SK: META}


def ended_session(session_hash: str) -> dict[str, str]:
    """A web-app session signed out (logout): its id's hash; deleted by TTL when the session would have expired."""
    return {PK: f"WEBSESSIONEND#{session_hash}", SK: META}


def signin_quota(email_hash: str, hour: str) -> dict[str, str]:
    return {PK: f"SIGNINQUOTA#{email_hash}", SK: f"H#{hour}"}


def audit_pk(workspace_id: str) -> str:
    return f"AUDIT#{workspace_id}"


def audit_entry(workspace_id: str, at: str, entry_id: str) -> dict[str, str]:
    return {PK: audit_pk(workspace_id), SK: f"{at}#{entry_id}"}


# A customer's data at a store (issue 18 part 5: access and erasure, docs/data-model.md "Privacy").
# Every item that holds a civ is reachable from (workspace, store, civ) through a key or an index:
# feedback gsi2 FBCIV#, trackers gsi3 TRKCUS#, and these three access paths written with the item.
def token_customer_pk(workspace_id: str, store_slug: str, civ: str) -> str:
    """gsi1 of a token whose payload names a civ, and of the Idempotency-Key record whose stored
    response shows it (sk ``TOKEN#<value>`` / ``IDEM#<hash>``)."""
    return f"TOKCIV#{workspace_id}#{store_slug}#{civ}"


def purchase_customer_pk(workspace_id: str, store_slug: str, customer_id: str) -> str:
    """gsi2 of a purchase (sk: its purchase id): the store's purchases of one customer."""
    return f"PURCUS#{workspace_id}#{store_slug}#{customer_id}"


def nps_customer_pk(workspace_id: str, store_slug: str, civ: str) -> str:
    """gsi3 of an NPS review with a loyalty_id (sk: the review's sort key)."""
    return f"NPSCIV#{workspace_id}#{store_slug}#{civ}"


def agg_tombstone(workspace_id: str, store_slug: str, civ_hash: str) -> dict[str, str]:
    """'This customer was erased at this store': keyed by a keyed hash of the civ, never the civ;
    the aggregator reads it before it starts a new customer state."""
    return {PK: f"AGGTOMB#{workspace_id}#{store_slug}#{civ_hash}", SK: META}


# Alert emails (docs/alerts.md). A store with alert addresses carries gsi1 keys in the alert
# index (one partition: rare writes - a settings change -, one Query a day by the digest); every
# email sent is a marker item (one per event or week, and address), claimed before sending.
ALERT_STORES = "ALERTSTORES"


def alert_store_index(workspace_id: str, slug: str) -> dict[str, str]:
    return {"gsi1pk": ALERT_STORES, "gsi1sk": f"{workspace_id}#{slug}"}


def alert_marker(workspace_id: str, store_slug: str, subject: str, address_key: str) -> dict[str, str]:
    """'This alert (or week's digest) went to this address': ``subject`` is the event's key or
    ``digest/<week>``; ``address_key`` the address's keyed hash (or ``ALL``: the week's digest
    went to every address). A subject can be long (a civ is up to 1 KB), so it is keyed by its
    kind and SHA-256."""
    import hashlib

    kind = subject.split("/", 1)[0]
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    return {PK: f"ALERTSENT#{workspace_id}#{store_slug}", SK: f"{kind}#{digest}#{address_key}"}


def tenant_usage(workspace_id: str, window: int) -> dict[str, str]:
    """A workspace's authenticated requests in one minute (``window`` = epoch minutes): the
    tenant limit's shared counter (revisit.domain.limits). Functions may UpdateItem only ``RATE#``
    items (IAM ``dynamodb:LeadingKeys``)."""
    return {PK: f"RATE#{workspace_id}", SK: f"W#{window}"}


# Stores with a retention setting (issue 18 part 5): gsi2 of the store item while it has one, so
# the daily retention job finds them with one Query (no Scan).
RETENTION_STORES = "RETENTIONSTORES"


def retention_store_index(workspace_id: str, slug: str) -> dict[str, str]:
    return {"gsi2pk": RETENTION_STORES, "gsi2sk": f"{workspace_id}#{slug}"}


def nps_contact_pk(workspace_id: str, store_slug: str, client: int) -> str:
    """gsi4 (keys only) of an NPS review: its reviewer's number (a keyed hash of the email, phone or
    device), so an erasure request naming a contact finds their reviews without a loyalty_id."""
    return f"NPSCLI#{workspace_id}#{store_slug}#{client}"
