"""Numbers, dates and times as each supported language writes them (CLDR's conventions, as Babel
formats them: tests/unit/test_alerts.py compares every one with Babel, which is a development
dependency only - the layer stays small)."""

from __future__ import annotations

from datetime import date, datetime

# language -> (decimal sign, group separator, percent pattern, short date pattern, 12-hour clock)
_NNBSP, _NBSP = "\u202f", "\u00a0"
_CONVENTIONS = {
    "en": (".", ",", "{n}%", "{m}/{d}/{yy}", True),
    "fr": (",", _NNBSP, "{n}" + _NBSP + "%", "{dd}/{mm}/{yyyy}", False),
    "de": (",", ".", "{n}" + _NBSP + "%", "{dd}.{mm}.{yy}", False),
    "es": (",", ".", "{n}" + _NBSP + "%", "{d}/{m}/{yy}", False),
    "it": (",", ".", "{n}%", "{dd}/{mm}/{yy}", False),
    "nl": (",", ".", "{n}%", "{dd}-{mm}-{yyyy}", False),
    "pt": (",", ".", "{n}%", "{dd}/{mm}/{yyyy}", False),
}


def _conventions(language: str) -> tuple[str, str, str, str, bool]:
    return _CONVENTIONS.get(language, _CONVENTIONS["en"])


def decimal(value: float, places: int, language: str) -> str:
    """``value`` with exactly ``places`` decimals (4,25 in French)."""
    point, group, *_ = _conventions(language)
    whole, _, fraction = f"{abs(value):.{places}f}".partition(".")
    grouped = f"{int(whole):,}".replace(",", group)
    return ("-" if value < 0 else "") + grouped + (point + fraction if fraction else "")


def integer(value: int, language: str) -> str:
    """A count with the language's thousands separator (1.234 in German)."""
    return decimal(value, 0, language)


def percent(value: float, language: str) -> str:
    """A percentage given as 0-100 with one decimal, as the language writes it (83,3 % in French);
    a whole number keeps no decimals (80 %)."""
    pattern = _conventions(language)[2]
    places = 0 if float(value).is_integer() else 1
    return pattern.format(n=decimal(value, places, language))


def short_date(day: date, language: str) -> str:
    """CLDR's short date (3/1/26, 01/03/2026, 01.03.26, ...)."""
    pattern = _conventions(language)[3]
    return pattern.format(
        d=day.day, m=day.month, dd=f"{day.day:02d}", mm=f"{day.month:02d}", yy=f"{day.year % 100:02d}",
        yyyy=f"{day.year:04d}",
    )  # fmt: skip


def short_time(at: datetime, language: str) -> str:
    """CLDR's short time (9:05 AM, 09:05, 9:05 in Spanish)."""
    if _conventions(language)[4]:
        hour = at.hour % 12 or 12
        return f"{hour}:{at.minute:02d}{_NNBSP}{'AM' if at.hour < 12 else 'PM'}"
    if language == "es":
        return f"{at.hour}:{at.minute:02d}"
    return f"{at.hour:02d}:{at.minute:02d}"
