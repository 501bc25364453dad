"""Every text a customer reads, in their language: gettext catalogs (``revisit/i18n/<lang>/
LC_MESSAGES/revisit.mo``), extracted and compiled with Babel (``make catalogs``; the .po files are
the source, the .mo files are committed and checked against them by tests/unit/test_catalogs.py).

The message ids are the English texts, with ``{name}`` placeholders filled by :func:`Text.__call__`
after translation (translators keep the placeholders). English needs no catalog.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from revisit.domain import locales

DOMAIN = "revisit"
CATALOGS = Path(__file__).resolve().parent


class Text:
    """The texts of one language: ``t("How was your visit to {store}?", store=name)``."""

    def __init__(self, language: str, translations: gettext.NullTranslations) -> None:
        self.language = language
        self._translations = translations

    def __call__(self, message: str, **values: object) -> str:
        text = self._translations.gettext(message)
        return text.format(**values) if values else text


@lru_cache(maxsize=len(locales.SUPPORTED))
def text(language: str) -> Text:
    """The texts of a supported language (English for anything else); loaded once per container."""
    language = locales.normalize(language) or locales.DEFAULT
    if language == locales.DEFAULT:
        return Text(language, gettext.NullTranslations())
    with (CATALOGS / language / "LC_MESSAGES" / f"{DOMAIN}.mo").open("rb") as catalog:
        return Text(language, gettext.GNUTranslations(catalog))


def question(t: Text, store_name: str, questions: Mapping[str, str] | None) -> str:
    """The survey question in ``t``'s language: the store's own text for that language (its
    ``{store}`` filled in) when it set one, else the catalog's."""
    custom = (questions or {}).get(t.language)
    if custom:
        return custom.replace("{store}", store_name)
    return t("How was your visit to {store}?", store=store_name)


def N_(message: str) -> str:
    """gettext's name for "mark for extraction, translate later" (Babel extracts N_ calls)."""
    return message
