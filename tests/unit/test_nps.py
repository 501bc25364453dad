"""NPS API compatible with seed 002: categories, channels, create, reviews - and privacy."""

from __future__ import annotations

import json

import pytest

from tests.support import api_event, invoke


@pytest.fixture
def shop(world):
    """A shop that set up its own category and channels: its default ones (every new shop has a
    category and a channel coded 'default', ids 1 and 2) deactivated."""
    owner = world.owner_headers()
    for kind in ("categories", "channels"):
        off = invoke(
            "management",
            api_event(
                "PATCH",
                f"/api/nps/{kind}/default",
                resource="/api/nps/{kind}/{code}",
                path_params={"kind": kind, "code": "default"},
                body={"storeSlug": "downtown-coffee", "active": False},
                headers=owner,
            ),
        )
        assert off.status == 200, off.text
    for body in (
        {
            "storeSlug": "downtown-coffee",
            "code": "category_id",
            "name": "After purchase",
            "promoter_question": "What did you love?",
            "promoter_success": "Thanks, promoter!",
            "passive_question": "What would make it a 10?",
            "passive_success": "Thanks, we will improve.",
            "detractor_question": "What went wrong?",
            "detractor_success": "Sorry - we will call you.",
        },
        {"storeSlug": "downtown-coffee", "code": "retired", "name": "Old", "active": False},
    ):
        assert invoke("management", api_event("POST", "/api/nps/categories", body=body, headers=owner)).status == 201
    for body in (
        {"storeSlug": "downtown-coffee", "code": "channel_id", "name": "Email"},
        {"storeSlug": "downtown-coffee", "code": "web", "name": "Website"},
    ):
        assert invoke("management", api_event("POST", "/api/nps/channels", body=body, headers=owner)).status == 201
    return world


def get(path, **query):
    return invoke(
        "nps_public" if path != "/nps/reviews" else "nps_reviews", api_event("GET", path, query=query or None)
    )


def create(body):
    return invoke("nps_create", api_event("POST", "/nps/create", body=body))


def seed_secret_example(shop, **overrides):
    # curl 'https://api.personaclick.com/nps/create' -X 'POST' -H 'content-type: application/json' -d '{...}'
    return {
        "shop_id": shop.shop_id,
        "shop_secret": shop.shop_secret,
        "category": "category_id",
        "channel": "channel_id",
        "rate": 8,
        "comment": "ok thanks",
        "email": "john.doe@examplemail.com",
        "seance": "s-1",
        **overrides,
    }


def test_categories_and_channels_have_exactly_the_seed_fields(shop):
    cats = get("/nps/categories", shop_id=shop.shop_id)
    assert cats.status == 200
    assert cats.json == [
        {
            "id": 3,
            "code": "category_id",
            "name": "After purchase",
            "promoter_question": "What did you love?",
            "promoter_success": "Thanks, promoter!",
            "passive_question": "What would make it a 10?",
            "passive_success": "Thanks, we will improve.",
            "detractor_question": "What went wrong?",
            "detractor_success": "Sorry - we will call you.",
        }
    ]
    chans = get("/nps/channels", shop_id=shop.shop_id)
    assert chans.json == [{"id": 5, "code": "channel_id", "name": "Email"}, {"id": 6, "code": "web", "name": "Website"}]


def test_unknown_shop_is_404_and_missing_shop_id_is_404(shop):
    reply = get("/nps/categories", shop_id="nope")
    assert reply.status == 404 and reply.json == {"status": "error", "message": "Shop not found."}
    assert get("/nps/channels").status == 404


def test_create_with_shop_secret_and_email(shop, table):
    reply = create(seed_secret_example(shop))
    assert reply.status == 200
    assert reply.json == {"status": "success", "respondent_type": "passive", "message": "Thanks, we will improve."}
    phone = create(seed_secret_example(shop, email=None, phone="+33 6 12 34 56 78", rate=10))
    assert phone.status == 200 and phone.json["respondent_type"] == "promoter"
    dump = json.dumps(table.scan(TableName="revisit-unit")["Items"])
    assert "john.doe" not in dump and "examplemail" not in dump
    assert "12 34 56" not in dump and "612345678" not in dump


def test_seed_examples_without_seance_succeed(shop):
    body = seed_secret_example(shop)
    del body["seance"]
    assert create(body).status == 200


def test_create_with_did_from_init(shop):
    init = get("/nps/init", shop_id=shop.shop_id)
    assert init.status == 200 and init.json["did"] and init.json["seance"]
    # curl ... -d '{"shop_id":"...","did":"7rjVGhMykT","category":"category_id","channel":"channel_id","rate":8,...}'
    body = {
        "shop_id": shop.shop_id,
        "did": init.json["did"],
        "category": "category_id",
        "channel": "channel_id",
        "rate": 10,
        "comment": "ok thanks",
        "seance": init.json["seance"],
    }
    reply = create(body)
    assert reply.status == 200 and reply.json["respondent_type"] == "promoter"
    assert create({**body, "did": "7rjVGhMykT"}).status == 403


@pytest.mark.parametrize(
    ("rate", "status", "kind"),
    [
        (0, 400, None),
        (11, 400, None),
        (7.5, 400, None),
        ("8", 200, "passive"),
        (True, 400, None),
        ("eight", 400, None),
        (6, 200, "detractor"),
        (9, 200, "promoter"),
        (1, 200, "detractor"),
        (10.0, 200, "promoter"),
    ],
)
def test_rates_as_documented(shop, rate, status, kind):
    reply = create(seed_secret_example(shop, rate=rate))
    assert reply.status == status, reply.text
    if status == 400:
        assert reply.json["status"] == "error" and "rate" in reply.json["message"]
    else:
        assert reply.json["respondent_type"] == kind


@pytest.mark.parametrize(
    ("overrides", "status", "field"),
    [
        ({"category": "nope"}, 400, "category"),
        ({"category": "retired"}, 400, "category"),
        ({"channel": "nope"}, 400, "channel"),
        ({"shop_secret": "0" * 32}, 403, None),
        ({"shop_id": "unknownshop"}, 404, None),
        ({"shop_id": None}, 404, None),
        ({"seance": ""}, 400, "seance"),
        ({"email": None}, 400, "email or phone"),
        ({"email": "not-an-email"}, 400, "email"),
        ({"shop_secret": None}, 400, "shop_secret or did"),
        ({"comment": "x" * 2001}, 400, "comment"),
    ],
)
def test_create_errors_use_the_seed_codes(shop, table, overrides, status, field):
    body = {k: v for k, v in seed_secret_example(shop, **overrides).items() if v is not None}
    reply = create(body)
    assert reply.status == status, reply.text
    assert reply.json["status"] == "error"
    if field:
        assert field in reply.json["message"]
    assert not [i for i in table.scan(TableName="revisit-unit")["Items"] if i.get("type", {}).get("S") == "nps_review"]


def test_another_stores_shop_secret_is_403(shop):
    from revisit.domain import credentials, workspaces
    from revisit.domain.auth import Kind

    other = workspaces.get_store("1042", "uptown-bakery")
    secret = credentials.issue("1042", Kind.SHOP, "store", "uptown-bakery", shop_id=other["shopId"])["shopSecret"]
    assert create(seed_secret_example(shop, shop_secret=secret)).status == 403


def test_reviews_returns_each_path_and_filters(shop):
    create(seed_secret_example(shop))
    init = get("/nps/init", shop_id=shop.shop_id).json
    create(
        {
            "shop_id": shop.shop_id,
            "did": init["did"],
            "seance": "x",
            "category": "category_id",
            "channel": "web",
            "rate": 3,
            "loyalty_id": "CUST-7891",
        }
    )
    # curl 'https://api.personaclick.com/nps/reviews?shop_id=...&shop_secret=...'
    reply = get("/nps/reviews", shop_id=shop.shop_id, shop_secret=shop.shop_secret)
    assert reply.status == 200
    assert [r["rate"] for r in reply.json] == [8, 3]
    assert set(reply.json[0]) == {"id", "client", "rate", "channel", "category", "comment", "created_at"}
    assert isinstance(reply.json[0]["id"], int) and isinstance(reply.json[0]["client"], int)
    assert [
        r["rate"] for r in get("/nps/reviews", shop_id=shop.shop_id, shop_secret=shop.shop_secret, channel="web").json
    ] == [3]
    assert (
        get(
            "/nps/reviews",
            shop_id=shop.shop_id,
            shop_secret=shop.shop_secret,
            category="category_id",
            channel="channel_id",
        ).json[0]["rate"]
        == 8
    )
    assert get("/nps/reviews", shop_id=shop.shop_id, shop_secret=shop.shop_secret, date_to="2020-01-01").json == []
    assert get("/nps/reviews", shop_id=shop.shop_id, shop_secret="wrong").status == 403
    assert get("/nps/reviews", shop_id="nope", shop_secret="x").status == 403  # as a wrong secret (issue 18)
    assert get("/nps/reviews", shop_id=shop.shop_id).status == 404


def test_same_reviewer_gets_the_same_client(shop):
    create(seed_secret_example(shop, email="Ann@Example.com"))
    create(seed_secret_example(shop, email="ann@example.com", rate=9))
    create(seed_secret_example(shop, email="bob@example.com"))
    clients = [r["client"] for r in get("/nps/reviews", shop_id=shop.shop_id, shop_secret=shop.shop_secret).json]
    assert clients[0] == clients[1] != clients[2]


def test_more_than_1000_reviews_are_all_reachable(shop):
    from revisit.dal import nps as nps_dal

    for i in range(1203):
        nps_dal.put_review(
            {
                "id": 10_000 + i,
                "client": i,
                "rate": 1 + i % 10,
                "channel": "web",
                "category": "category_id",
                "respondentType": "x",
                "workspaceId": "1042",
                "storeSlug": "downtown-coffee",
                "shopId": shop.shop_id,
                "createdAt": f"2026-05-01T00:00:{i % 60:02d}.{i:03d}Z"[:24] + "Z",
            }
        )
    first = get("/nps/reviews", shop_id=shop.shop_id, shop_secret=shop.shop_secret)
    assert len(first.json) == 1000
    cursor = first.headers["x-next-cursor"]
    assert 'rel="next"' in first.headers["link"] and f"cursor={cursor}" in first.headers["link"]
    rest = get("/nps/reviews", shop_id=shop.shop_id, shop_secret=shop.shop_secret, cursor=cursor)
    assert len(rest.json) == 203 and "x-next-cursor" not in rest.headers
    assert len({r["id"] for r in first.json + rest.json}) == 1203
    assert get("/nps/reviews", shop_id=shop.shop_id, shop_secret=shop.shop_secret, cursor="junk").status == 400


def test_management_patch_deactivates(shop):
    reply = invoke(
        "management",
        api_event(
            "PATCH",
            "/api/nps/channels/web",
            resource="/api/nps/{kind}/{code}",
            path_params={"kind": "channels", "code": "web"},
            body={"storeSlug": "downtown-coffee", "active": False},
            headers=shop.owner_headers(),
        ),
    )
    assert reply.status == 200 and reply.json["active"] is False
    assert [c["code"] for c in get("/nps/channels", shop_id=shop.shop_id).json] == ["channel_id"]
    dup = invoke(
        "management",
        api_event(
            "POST",
            "/api/nps/channels",
            body={"storeSlug": "downtown-coffee", "code": "web", "name": "x"},
            headers=shop.owner_headers(),
        ),
    )
    assert dup.status == 409


def test_sample_events_with_the_seed_ids_replaced(shop):
    from tests.support import sample_event

    def real(event):
        text = json.dumps(event)
        text = text.replace("0d42fd8b713d0752776ca589cc0056", shop.shop_id)
        return json.loads(text.replace("0123456789abcdef0123456789abcdef", shop.shop_secret))

    assert invoke("nps_public", real(sample_event("nps_categories"))).json[0]["code"] == "category_id"
    assert len(invoke("nps_public", real(sample_event("nps_channels"))).json) == 2
    assert invoke("nps_create", real(sample_event("nps_create"))).json["status"] == "success"
    assert invoke("nps_reviews", real(sample_event("nps_reviews"))).json[0]["comment"] == "ok thanks"
    # and as written, with the seed's example ids: no such shop
    assert invoke("nps_public", sample_event("nps_categories")).status == 404
