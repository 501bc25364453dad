"""The customer's side (issue 14): the page in the customer's language with the store's name and
branding, a native 1 -> 5 radio group, a form that works without JavaScript, errors tied to their
field, the review prompt and the closed-link pages."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest

from revisit.http import pages
from tests.support import api_event, invoke


def new_token(world, payload=None):
    body = {"storeSlug": "downtown-coffee", "payload": payload or {"orderId": "ORD-1", "civ": "CUST-1"}}
    reply = invoke("token", api_event("POST", "/api/external/token", body=body, headers={"x-api-key": world.store_key}))
    assert reply.status == 201, reply.text
    return reply.json["token"]


def page(token, language=None):
    headers = {"Accept-Language": language} if language else None
    event = api_event("GET", f"/s/{token}", resource="/s/{token}", path_params={"token": token}, headers=headers)
    return invoke("survey_page", event)


def answer(token, fields, language=None, content_type="application/x-www-form-urlencoded"):
    event = api_event("POST", f"/s/{token}", resource="/s/{token}", path_params={"token": token})
    event["headers"]["Content-Type"] = content_type
    if language:
        event["headers"]["Accept-Language"] = language
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    event["body"] = urlencode(fields)
    return invoke("survey_page", event)


def settings(world, **changes):
    event = api_event(
        "PATCH",
        "/api/stores/downtown-coffee",
        resource="/api/stores/{storeSlug}",
        path_params={"storeSlug": "downtown-coffee"},
        body=changes,
        headers=world.owner_headers(),
    )
    reply = invoke("management", event)
    assert reply.status == 200, reply.text
    return reply.json


def feedback_of(world, order_id):
    event = api_event(
        "GET", "/api/external/feedback", query={"orderId": order_id}, headers={"x-api-key": world.store_key}
    )
    return invoke("feedback", event).json["items"]


def lang(html):
    return re.search(r'<html lang="([a-z]+)"', html).group(1)


# ------------------------------------------------------------------ language


def test_the_page_speaks_the_browser_language(world):
    token = new_token(world)
    french = page(token, "fr-CA,fr;q=0.9,en;q=0.5")
    assert french.status == 200 and lang(french.text) == "fr"
    assert "Comment s&#x27;est passée votre visite chez Downtown Coffee ?" in french.text
    assert "Envoyer mon avis" in french.text and "4 étoiles sur 5" in french.text
    assert lang(page(token, "ja, *").text) == "en"  # unsupported: the store's locale (en by default)


def test_payload_locale_wins_then_accept_language_then_the_store(world):
    settings(world, locale="de")
    assert lang(page(new_token(world, {"orderId": "1", "locale": "it"}), "fr").text) == "it"
    assert lang(page(new_token(world), "nl").text) == "nl"
    german = page(new_token(world))
    assert lang(german.text) == "de" and "Wie war Ihr Besuch bei Downtown Coffee?" in german.text


def test_the_store_question_and_name_show_on_the_page(world):
    settings(world, name="Downtown Coffee & Co", questions={"fr": "Alors, {store}, c'était bon ?"})
    token = new_token(world)
    assert "Alors, Downtown Coffee &amp; Co, c&#x27;était bon ?" in page(token, "fr").text
    assert "How was your visit to Downtown Coffee &amp; Co?" in page(token, "en").text


# ------------------------------------------------------------------ accessibility and branding


def test_stars_are_a_native_radio_group_in_order_one_to_five(world):
    html = page(new_token(world)).text
    values = re.findall(r'<input type="radio" id="r(\d)" name="rating" value="(\d)"', html)
    assert values == [(str(n), str(n)) for n in range(1, 6)]
    names = re.findall(r'<span class="sr">([^<]+)</span>', html)
    assert names == [f"{n} of 5 stars" for n in range(1, 6)]
    assert "<fieldset><legend>Your rating</legend>" in html
    assert "<script" not in html  # nothing needs JavaScript


def test_colours_contrast_enough():
    white = "#ffffff"
    assert pages.contrast(pages.EMPTY_STAR, white) >= 3 and pages.contrast(pages.FILLED_STAR, white) >= 3
    for colour in (pages.TEXT, pages.MUTED, pages.ERROR, pages.DEFAULT_BRAND):
        assert pages.contrast(colour, white) >= 4.5
    worst = min(
        pages.contrast(f"#{r:02x}{g:02x}{b:02x}", pages.text_on(f"#{r:02x}{g:02x}{b:02x}"))
        for r in range(0, 256, 15)
        for g in range(0, 256, 15)
        for b in range(0, 256, 15)
    )
    assert worst >= 4.5


def test_brand_colour_and_logo(world):
    settings(world, brandColor="#FFD500", logoUrl="https://cdn.example.com/logo.png")
    reply = page(new_token(world))
    assert "background:#ffd500;color:#000000" in reply.text  # yellow: black text
    assert '<img class="logo" src="https://cdn.example.com/logo.png" alt="Downtown Coffee">' in reply.text
    assert "img-src https:" in reply.headers["content-security-policy"]
    style = re.search(r"<style>(.*?)</style>", reply.text).group(1)
    assert pages._sha(style) in reply.headers["content-security-policy"]  # the CSP pins this page's style


# ------------------------------------------------------------------ the form without JavaScript


def test_form_post_stores_the_answer_and_thanks_in_the_language(world):
    token = new_token(world, {"orderId": "FORM-1", "civ": "CUST-F"})
    reply = answer(token, {"rating": "5", "comment": "  Lovely  "}, "es")
    assert reply.status == 200 and lang(reply.text) == "es" and "¡Gracias!" in reply.text
    [stored] = feedback_of(world, "FORM-1")
    assert stored["rating"] == 5 and stored["comment"] == "Lovely" and stored["civ"] == "CUST-F"


def test_a_post_without_rating_shows_the_error_on_its_field_and_writes_nothing(world):
    token = new_token(world, {"orderId": "FORM-2"})
    reply = answer(token, {"comment": "kept"}, "de")
    assert reply.status == 400 and lang(reply.text) == "de"
    assert '<p id="rating-error" class="error">Bitte wählen Sie eine Bewertung von 1 bis 5 Sternen.</p>' in reply.text
    assert reply.text.count('aria-describedby="rating-error"') == 5
    assert ">kept</textarea>" in reply.text
    assert feedback_of(world, "FORM-2") == []
    for bad in ({"rating": "6"}, {"rating": "x"}, {"rating": "5", "comment": "x" * 2001}):
        assert answer(token, bad).status == 400
    assert answer(token, {"rating": "5"}, content_type="application/json").status == 400
    assert feedback_of(world, "FORM-2") == []
    assert page(token).status == 200  # still open


def test_the_same_answer_again_is_the_customers_retry(world):
    token = new_token(world, {"orderId": "FORM-3"})
    assert answer(token, {"rating": "4", "comment": "ok"}).status == 200
    again = answer(token, {"rating": "4", "comment": "ok"})
    assert again.status == 200 and "Thank you!" in again.text
    other = answer(token, {"rating": "1"})
    assert other.status == 410 and "already been answered" in other.text
    assert len(feedback_of(world, "FORM-3")) == 1


# ------------------------------------------------------------------ the review prompt


@pytest.mark.parametrize(("rating", "offered"), [(5, True), (4, True), (3, False)])
def test_review_prompt_from_the_minimum_rating(world, rating, offered):
    settings(world, reviewPrompt={"minRating": 4, "url": "https://g.page/r/downtown/review"})
    reply = answer(new_token(world), {"rating": str(rating)})
    assert reply.status == 200
    assert ('href="https://g.page/r/downtown/review"' in reply.text) is offered
    assert ("We will look into it." in reply.text) is (rating <= 3)


def test_no_prompt_without_a_review_url(world):
    reply = answer(new_token(world), {"rating": "5"})
    assert "Write a review" not in reply.text and "look into it" not in reply.text


# ------------------------------------------------------------------ closed links


def test_closed_links_in_the_language(world):
    token = new_token(world)
    answer(token, {"rating": "5"})
    used = page(token, "it")
    assert used.status == 410 and lang(used.text) == "it" and "Questo sondaggio è già stato compilato" in used.text
    unknown = page("tkn_" + "x" * 22, "pt")
    assert unknown.status == 404 and "Inquérito não encontrado" in unknown.text


def test_the_form_post_sample_event(world):
    """events/survey_answer.json (sam local invoke SurveyPageFunction -e ...): a phone's form post in French."""
    from tests.support import sample_event

    event = sample_event("survey_answer")
    assert invoke("survey_page", event).status == 404  # the sample's placeholder token
    token = new_token(world, {"orderId": "SAMPLE-1"})
    event["path"], event["pathParameters"] = f"/s/{token}", {"token": token}
    reply = invoke("survey_page", event)
    assert reply.status == 200 and lang(reply.text) == "fr" and "Merci !" in reply.text
    [stored] = feedback_of(world, "SAMPLE-1")
    assert stored["rating"] == 4 and stored["comment"] == "Très bien, merci"


def test_an_unsupported_payload_locale_is_refused(world):
    body = {"storeSlug": "downtown-coffee", "payload": {"orderId": "L-1", "locale": "xx"}}
    reply = invoke("token", api_event("POST", "/api/external/token", body=body, headers={"x-api-key": world.store_key}))
    assert reply.status == 400 and reply.json["error"]["details"][0]["field"] == "payload.locale", reply.text


def test_the_answer_reads_its_token_once(world):
    """POST /s/{token} reads the token for the language and the store, and the submission builds
    on that read: one GetItem of the token, then the one transaction (it read the token twice)."""
    from revisit.dal import table as table_module
    from revisit.domain import workspaces

    token = new_token(world)
    assert page(token).status == 200  # the store's settings are cached now
    workspaces.cached_store(world.workspace_id, "downtown-coffee")
    ops: list[tuple[str, str]] = []

    def record(model, params, **_kw):
        body = json.loads(params["body"] or b"{}")
        ops.append((model.name, (body.get("Key") or {}).get("pk", {}).get("S", "").split("#", 1)[0]))

    table_module.client.meta.events.register("before-call.dynamodb", record)
    try:
        assert answer(token, {"rating": "4", "comment": "ok"}).status == 200
    finally:
        table_module.client.meta.events.unregister("before-call.dynamodb", record)
    token_reads = [op for op in ops if op[0] == "GetItem" and op[1] == "TOKEN"]
    assert len(token_reads) == 1, ops
    assert [name for name, _ in ops].count("TransactWriteItems") == 1, ops
