"""The message catalogs of every customer-facing text, kept with Babel.

    python -m revisit_dev.catalogs update    # extract the texts; add new ones to every .po; compile
    python -m revisit_dev.catalogs check     # what tests/unit/test_catalogs.py checks, as a report

The source of truth is each language's ``revisit.po`` (layers/revisit/revisit/i18n/<lang>/
LC_MESSAGES/); the ``.mo`` beside it is compiled from it and committed, so the layer and the local
stack need no build step. A text new in the code lands in every ``.po`` untranslated, and the
catalog test fails until someone translates it.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "dev" / "babel.cfg"
CATALOGS = ROOT / "layers" / "revisit" / "revisit" / "i18n"
KEYWORDS = {"t": None, "N_": None}
DOMAIN = "revisit"
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def extracted() -> dict[str, list[str]]:
    """Every text the code marks (``t("...")``, ``N_("...")``) -> where it is used."""
    from babel.messages.frontend import parse_mapping_cfg

    with MAPPING.open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS, comment_tags=()
    ):
        if isinstance(message, str):
            found.setdefault(message, []).append(f"{filename}:{lineno}")
    return found


def languages() -> list[str]:
    return sorted(p.parent.parent.name for p in CATALOGS.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def po_path(language: str) -> Path:
    return CATALOGS / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(language: str) -> Catalog:
    with po_path(language).open("rb") as f:
        return read_po(f, locale=language, domain=DOMAIN)


def compiled(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def problems(language: str, wanted: dict[str, list[str]] | None = None) -> list[str]:
    """What is wrong with a language's catalog: missing, untranslated, fuzzy or obsolete texts,
    placeholders that differ from the English, a ``.mo`` that is not the ``.po`` compiled."""
    wanted = extracted() if wanted is None else wanted
    catalog = read(language)
    found = []
    have = {m.id: m for m in catalog if m.id}
    for text, where in wanted.items():
        message = have.get(text)
        if message is None:
            found.append(f"{language}: missing {text!r} ({where[0]})")
        elif not message.string:
            found.append(f"{language}: untranslated {text!r} ({where[0]})")
        elif message.fuzzy:
            found.append(f"{language}: fuzzy {text!r}")
        elif sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(message.string)):
            found.append(f"{language}: placeholders of {text!r} differ in {message.string!r}")
    found += [f"{language}: obsolete {text!r} (no longer in the code)" for text in have if text not in wanted]
    mo = po_path(language).with_suffix(".mo")
    if not mo.is_file():
        found.append(f"{language}: {mo.name} is missing (python -m revisit_dev.catalogs update)")
    else:
        with mo.open("rb") as f:
            shipped = {m.id: m.string for m in read_mo(f) if m.id}
        if shipped != {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}:
            found.append(f"{language}: {mo.name} is not {po_path(language).name} compiled (… catalogs update)")
    return found


def update() -> None:
    """New texts into every catalog (untranslated), texts gone from the code out, then compile."""
    wanted = extracted()
    for language in languages():
        catalog = read(language)
        have = {m.id for m in catalog if m.id}
        for text in wanted:
            if text not in have:
                catalog.add(text, "")
        for text in have - set(wanted):
            catalog.delete(text)
        with po_path(language).open("wb") as f:
            write_po(f, catalog, width=0, sort_output=True, no_location=True, ignore_obsolete=True)
        po_path(language).with_suffix(".mo").write_bytes(compiled(catalog))


def main(argv: list[str] | None = None) -> int:
    command = (sys.argv[1:] if argv is None else argv) or ["check"]
    if command == ["update"]:
        update()
    elif command != ["check"]:
        print(__doc__)
        return 2
    wanted = extracted()
    report = [p for language in languages() for p in problems(language, wanted)]
    print("\n".join(report) or f"{len(wanted)} texts, {len(languages())} languages besides English: complete")
    return 1 if report else 0


if __name__ == "__main__":
    raise SystemExit(main())
