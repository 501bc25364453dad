"""The Jinja2 environment and the formatting filters of the pages (numbers, percents, intervals,
deltas - never "0 %" or NaN for a missing value).

Templates come from templates/ as they are (local stack, tests), or - in the function `sam build`
ships - from templates_compiled/, the same templates compiled to Python modules at build time
(``python templating.py OUT_DIR``, functions/webapp/Makefile), so a cold container does not
compile the templates it renders. This module imports nothing of the app (the build runs it alone).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, ModuleLoader, StrictUndefined, select_autoescape

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
COMPILED = HERE / "templates_compiled"

# ------------------------------------------------------------------ formatting


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def num(value: Any, places: int = 0) -> str:
    """1234 -> "1,234"; 4.5 (places=2) -> "4.50"; None -> "—"."""
    if _missing(value):
        return "—"
    return f"{value:,.{places}f}"


def pct(value: Any, places: int = 1) -> str:
    return "—" if _missing(value) else f"{value:.{places}f} %"


def interval(bounds: Any, places: int = 1, unit: str = "") -> str:
    """ "95 % interval 3.9 to 4.6" in words; "" when there is none (too few answers)."""
    if not bounds or any(_missing(b) for b in bounds):
        return ""
    low, high = bounds[:2]
    return f"{low:.{places}f}{unit} to {high:.{places}f}{unit}"


def signed(value: Any, places: int = 2) -> str:
    return "—" if _missing(value) else f"{value:+.{places}f}".replace("-", "−")


def plural(count: Any, word: str, words: str | None = None) -> str:
    count = int(count or 0)
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


# ------------------------------------------------------------------ the environment


def environment(compiled: Path | None = COMPILED) -> Environment:
    """The pages' environment: compiled templates when ``compiled`` holds them, else the sources."""
    use_compiled = compiled is not None and compiled.is_dir() and any(compiled.iterdir())
    loader = ModuleLoader(str(compiled)) if use_compiled else FileSystemLoader(str(TEMPLATES))
    made = Environment(
        loader=loader,
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    made.filters.update(num=num, pct=pct, interval=interval, signed=signed, plural=plural)
    return made


env = environment()


def compile_all(out: Path) -> int:
    """Compile every template of templates/ into ``out`` (Python source modules); their count."""
    source = environment(compiled=None)
    out.mkdir(parents=True, exist_ok=True)
    names = source.list_templates(extensions=["html"])
    source.compile_templates(str(out), zip=None, ignore_errors=False)
    return len(names)


if __name__ == "__main__":
    print(f"compiled {compile_all(Path(sys.argv[1]))} templates into {sys.argv[1]}")
