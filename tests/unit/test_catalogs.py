"""Every customer-facing text is in every language's catalog: translated, not fuzzy, with the
English placeholders, and the shipped .mo is its .po compiled; every SMS fits its segments."""

from __future__ import annotations

import pytest

from revisit import i18n
from revisit.domain import locales, sending
from revisit_dev import catalogs

GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€")  # two septets each


def segments(text: str) -> tuple[str, int]:
    """(encoding, SMS segments): GSM-7 160 / 153 per part, else UCS-2 70 / 67 per part."""
    if all(c in GSM7 or c in GSM7_EXTENSION for c in text):
        units, single, part, encoding = sum(2 if c in GSM7_EXTENSION else 1 for c in text), 160, 153, "GSM-7"
    else:
        units, single, part, encoding = len(text.encode("utf-16-le")) // 2, 70, 67, "UCS-2"
    return encoding, 1 if units <= single else -(-units // part)


@pytest.fixture(scope="module")
def wanted():
    return catalogs.extracted()


def test_every_supported_language_but_english_has_a_catalog():
    assert catalogs.languages() == sorted(set(locales.SUPPORTED) - {locales.DEFAULT})


def test_the_code_marks_the_texts_of_every_customer_page(wanted):
    for text in ("How was your visit to {store}?", "{n} of 5 stars", "Survey expired", "Write a review"):
        assert text in wanted
    assert len(wanted) >= 30


@pytest.mark.parametrize("language", sorted(set(locales.SUPPORTED) - {locales.DEFAULT}))
def test_catalog_is_complete(language, wanted):
    assert catalogs.problems(language, wanted) == []


def test_the_check_finds_a_missing_an_untranslated_and_a_fuzzy_text(wanted, monkeypatch):
    assert any(
        "missing 'A text nobody translated'" in p
        for p in catalogs.problems("fr", {**wanted, "A text nobody translated": ["x:1"]})
    )
    real = catalogs.read

    def damaged(language):
        catalog = real(language)
        catalog["Survey expired"].string = ""
        catalog["Survey closed"].flags.add("fuzzy")
        catalog["Feedback for {store}"].string = "Votre avis"
        return catalog

    monkeypatch.setattr(catalogs, "read", damaged)
    found = "\n".join(catalogs.problems("fr", wanted))
    assert "untranslated 'Survey expired'" in found
    assert "fuzzy 'Survey closed'" in found
    assert "placeholders of 'Feedback for {store}'" in found
    assert ".mo is not" in found  # the shipped .mo no longer matches the damaged .po


def test_translations_load_at_run_time():
    assert i18n.text("fr")("Thank you!") == "Merci !"
    assert i18n.text("de-CH")("Your rating") == "Ihre Bewertung"
    assert i18n.text("ja")("Your rating") == "Your rating"  # unsupported: English
    assert i18n.text("es")("How was your visit to {store}?", store="Café {x}") == "¿Qué tal fue su visita a Café {x}?"


SHORT_LINK = "https://go.example.com/r/AbCdEfGhIjKlMnOpQrStUv"  # PUBLIC_BASE_URL: a short domain
API_LINK = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/Prod/r/AbCdEfGhIjKlMnOpQrStUv"


@pytest.mark.parametrize("language", locales.SUPPORTED)
def test_every_sms_fits_one_gsm7_segment_with_a_short_domain(language):
    """Each SMS text stays GSM-7 in every language (no UCS-2: 70 characters a segment) and, with
    a short PUBLIC_BASE_URL and a 20-character store name, fits one segment; with the API
    Gateway URL (84 characters, twice) it takes 2 segments in every language."""
    store = {"name": "Downtown Coffee Shop", "locale": language}
    short = sending._message({"linkUrl": SHORT_LINK, "storeSlug": "s"}, "sms", "+33600000000", store).text
    long = sending._message({"linkUrl": API_LINK, "storeSlug": "s"}, "sms", "+33600000000", store).text
    print(f"{language}: {segments(short)} with a short domain, {segments(long)} with the API URL")
    assert segments(short) == ("GSM-7", 1), short
    assert segments(long) == ("GSM-7", 2), long


@pytest.mark.parametrize("language", locales.SUPPORTED)
def test_email_is_in_the_store_language_with_its_name(language):
    store = {"name": "Chez Marie", "locale": language}
    tracker = {"linkUrl": SHORT_LINK, "storeSlug": "chez-marie", "newReviewLink": "https://g.page/r/x"}
    mail = sending._message(tracker, "email", "a@example.com", store)
    t = i18n.text(language)
    assert mail.subject == t("How was your visit to {store}?", store="Chez Marie")
    assert t("Hello,") in mail.text and "Chez Marie" in mail.text and SHORT_LINK in mail.text
    assert "https://g.page/r/x" in mail.text and SHORT_LINK.replace("/r/", "/u/") in mail.text


def test_the_store_question_overrides_the_catalog_in_its_language():
    store = {"name": "Chez Marie", "locale": "fr", "questions": {"fr": "Alors, {store}, c'était bon ?"}}
    mail = sending._message({"linkUrl": SHORT_LINK, "storeSlug": "s"}, "email", "a@example.com", store)
    assert mail.subject == "Alors, Chez Marie, c'était bon ?"
    store["locale"] = "de"  # no German question set: the catalog's
    mail = sending._message({"linkUrl": SHORT_LINK, "storeSlug": "s"}, "email", "a@example.com", store)
    assert mail.subject == "Wie war Ihr Besuch bei Chez Marie?"
