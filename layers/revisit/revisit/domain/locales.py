"""The languages a customer can read Revisit in, and which one a request gets.

Choice, first match wins: a ``locale`` in the token's payload, else the customer's
``Accept-Language`` when it names a supported language, else the store's ``locale``, else English.
Locales are bare ISO 639-1 language codes: a regional tag (``fr-CA``, ``pt-BR``) reads its language.
"""

from __future__ import annotations

SUPPORTED: tuple[str, ...] = ("en", "fr", "de", "es", "it", "nl", "pt")
DEFAULT = "en"


def normalize(tag: str | None) -> str | None:
    """The supported language of a tag (``fr-CA`` -> ``fr``), or None."""
    if not tag or not isinstance(tag, str):
        return None
    language = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    return language if language in SUPPORTED else None


def from_accept_language(header: str | None) -> str | None:
    """The best supported language of an ``Accept-Language`` header (RFC 9110 q-values), or None."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        language = normalize(tag)
        if language and quality > 0:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else None


def choose(payload_locale: str | None, accept_language: str | None, store_locale: str | None) -> str:
    """The language of a customer-facing text (see the module's docstring for the order)."""
    return normalize(payload_locale) or from_accept_language(accept_language) or normalize(store_locale) or DEFAULT
