"""The customer's pages: small, accessible, mobile-first HTML with no script and no external
assets but the store's logo.

Every text comes from the message catalogs (revisit.i18n) in the customer's language, and
``<html lang>`` says which. The form is a native radio group (Tab reaches it, the arrow keys run
1 -> 5) posted form-encoded to the page's own URL, so it works without JavaScript; an error is
tied to its field (``aria-describedby``, ``aria-invalid``). The page shows the store's display
name, brand colour (text on it is black or white, whichever contrasts more: always >= 4.5:1) and
logo; never the token's payload. The style is pinned by hash in the Content-Security-Policy.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from revisit.i18n import Text, question

DEFAULT_BRAND = "#0a64d6"
TEXT = "#1d1d1f"  # 16.9:1 on white
MUTED = "#505055"  # 8.0:1 on white
EMPTY_STAR = "#767676"  # 4.5:1 on white (graphical objects need 3:1)
FILLED_STAR = "#a35200"  # 5.6:1 on white
ERROR = "#b00020"  # 7.3:1 on white
COMMENT_MAX = 2000


# ------------------------------------------------------------------ colour contrast (WCAG 2.x)


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two ``#rrggbb`` colours, 1-21."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_on(background: str) -> str:
    """Black or white, whichever contrasts more with ``background`` (>= 4.58:1 for any colour)."""
    return "#000000" if contrast(background, "#000000") >= contrast(background, "#ffffff") else "#ffffff"


@dataclass(frozen=True)
class Brand:
    """How a store looks to its customers (from its settings)."""

    name: str
    colour: str = DEFAULT_BRAND
    logo_url: str | None = None

    @classmethod
    def of(cls, store: Mapping[str, Any] | None, fallback_name: str) -> Brand:
        store = store or {}
        colour = str(store.get("brandColor") or DEFAULT_BRAND).lower()
        return cls(name=store.get("name") or fallback_name, colour=colour, logo_url=store.get("logoUrl") or None)

    @property
    def link_colour(self) -> str:
        """The brand colour for links on white when it contrasts enough (4.5:1), else the default."""
        return self.colour if contrast(self.colour, "#ffffff") >= 4.5 else DEFAULT_BRAND


# ------------------------------------------------------------------ the page frame


def _style(brand: Brand) -> str:
    return (
        "*{box-sizing:border-box}"
        'body{margin:0;font:17px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;'
        f"color:{TEXT};background:#f5f5f7;display:flex;min-height:100vh;align-items:center;justify-content:center}}"
        "main{background:#fff;width:100%;max-width:28rem;margin:1rem;padding:1.5rem;border-radius:1rem;"
        "box-shadow:0 1px 4px rgba(0,0,0,.08)}"
        ".logo{display:block;max-height:3rem;max-width:12rem;margin:0 0 .75rem}"
        f"h1{{font-size:1.35rem;margin:0 0 .25rem}}p{{margin:.25rem 0 1rem;color:{MUTED}}}"
        "fieldset{border:0;padding:0;margin:0 0 1rem}legend{font-weight:600;margin-bottom:.5rem;padding:0}"
        ".stars{display:flex;gap:.25rem}"
        ".stars input{position:absolute;opacity:0;width:1px;height:1px;margin:0}"
        f".stars label{{font-size:2.4rem;line-height:1;color:{EMPTY_STAR};cursor:pointer;padding:.1rem;"
        "border-radius:.4rem}"
        f".stars input:checked+label,.stars label:has(~input:checked){{color:{FILLED_STAR}}}"
        f".stars input:focus-visible+label{{outline:3px solid {TEXT};outline-offset:2px}}"
        ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}"
        "label[for=comment]{display:block;font-weight:600;margin-bottom:.35rem}"
        f"textarea{{width:100%;min-height:6rem;font:inherit;padding:.6rem;border:1px solid {EMPTY_STAR};"
        "border-radius:.6rem}"
        f"textarea:focus-visible,button:focus-visible,a:focus-visible{{outline:3px solid {TEXT};outline-offset:2px}}"
        "button,.button{display:block;text-align:center;text-decoration:none;margin-top:1rem;width:100%;"
        "font:inherit;font-weight:600;padding:.8rem;border:0;border-radius:.6rem;"
        f"background:{brand.colour};color:{text_on(brand.colour)};cursor:pointer}}"
        f"a{{color:{brand.link_colour}}}.error{{color:{ERROR};font-weight:600}}.opt{{font-weight:400}}"
    )


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def headers(style: str) -> dict[str, str]:
    """The security headers of a page whose only inline content is ``style``."""
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src {_sha(style)}; img-src https:; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    }


@dataclass(frozen=True)
class Page:
    """A rendered page: its status, HTML and headers (the CSP pins this page's style)."""

    status: int
    html: str
    headers: dict[str, str]


def _page(status: int, t: Text, brand: Brand, title: str, body: str) -> Page:
    style = _style(brand)
    logo = f'<img class="logo" src="{escape(brand.logo_url)}" alt="{escape(brand.name)}">' if brand.logo_url else ""
    html = (
        f'<!doctype html><html lang="{t.language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{escape(title)}</title><style>{style}</style></head>'
        f"<body><main>{logo}{body}</main></body></html>"
    )
    return Page(status, html, headers(style))


# ------------------------------------------------------------------ the pages


def survey_form(
    t: Text,
    brand: Brand,
    questions: Mapping[str, str] | None = None,
    *,
    rating: int | None = None,
    comment: str = "",
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Page:
    """The 1-5 star form; ``errors`` (field -> message) re-renders it after a rejected post."""
    errors = errors or {}
    rating_error, comment_error = errors.get("rating"), errors.get("comment")
    # (texts are looked up outside the f-strings: Babel's extractor does not read inside them)
    names = [escape(t("{n} of 5 stars", n=n)) for n in range(1, 6)]
    intro, legend = escape(t("It takes ten seconds and helps us improve.")), escape(t("Your rating"))
    add, optional, send = escape(t("Anything to add?")), escape(t("(optional)")), escape(t("Send feedback"))
    invalid = ' aria-invalid="true" aria-describedby="rating-error"' if rating_error else ""
    stars = "".join(
        f'<input type="radio" id="r{n}" name="rating" value="{n}" required{invalid}'
        f"{' checked' if rating == n else ''}>"
        f'<label for="r{n}"><span aria-hidden="true">★</span><span class="sr">{names[n - 1]}</span></label>'
        for n in range(1, 6)
    )
    rating_note = f'<p id="rating-error" class="error">{escape(rating_error)}</p>' if rating_error else ""
    comment_note = f'<p id="comment-error" class="error">{escape(comment_error)}</p>' if comment_error else ""
    comment_invalid = ' aria-invalid="true" aria-describedby="comment-error"' if comment_error else ""
    body = (
        f"<h1>{escape(question(t, brand.name, questions))}</h1><p>{intro}</p>"
        '<form method="post" accept-charset="utf-8">'
        f'<fieldset><legend>{legend}</legend>{rating_note}<div class="stars">{stars}</div></fieldset>'
        f'<label for="comment">{add} <span class="opt">{optional}</span></label>{comment_note}'
        f'<textarea id="comment" name="comment" maxlength="{COMMENT_MAX}"{comment_invalid}>{escape(comment)}</textarea>'
        f'<button type="submit">{send}</button></form>'
    )
    return _page(status, t, brand, t("Feedback for {store}", store=brand.name), body)


def thank_you(t: Text, brand: Brand, rating: int, review_url: str | None) -> Page:
    """After an answer: the public review link when the store asks for one at this rating, a
    'we will look into it' after a low rating."""
    thanks, received = escape(t("Thank you!")), escape(t("Your feedback has been received."))
    body = f"<h1>{thanks}</h1><p>{received}</p>"
    if review_url:
        ask = escape(t("Glad you enjoyed it! Would you share it in a public review?"))
        write = escape(t("Write a review"))
        body += f'<p>{ask}</p><a class="button" href="{escape(review_url)}" rel="noopener noreferrer">{write}</a>'
    elif rating <= 3:
        body += "<p>" + escape(t("Thank you for telling us. We will look into it.")) + "</p>"
    return _page(200, t, brand, t("Thank you!"), body)


def message(status: int, t: Text, brand: Brand, title: str, text: str) -> Page:
    """A page that only says something (a closed link, an unsubscribe done)."""
    return _page(status, t, brand, title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p>")


def unsubscribe_form(t: Text, brand: Brand) -> Page:
    """A confirmation step: link scanners that prefetch GET links must not unsubscribe anyone."""
    title = escape(t("Stop survey messages?"))
    text = escape(t("You will get no more feedback requests from {store}.", store=brand.name))
    button = escape(t("Unsubscribe"))
    body = f'<h1>{title}</h1><p>{text}</p><form method="post"><button type="submit">{button}</button></form>'
    return _page(200, t, brand, t("Unsubscribe"), body)


def alert_unsubscribe_form(t: Text, brand: Brand) -> Page:
    """The alert emails' unsubscribe page: a confirmation step (a scanner's GET changes nothing)."""
    title = escape(t("Stop alert emails?"))
    text = escape(t("This address will get no more alert emails or weekly digests from {store}.", store=brand.name))
    button = escape(t("Unsubscribe"))
    body = f'<h1>{title}</h1><p>{text}</p><form method="post"><button type="submit">{button}</button></form>'
    return _page(200, t, brand, t("Stop alert emails?"), body)
