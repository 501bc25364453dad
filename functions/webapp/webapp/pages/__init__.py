"""The page modules of the web app, in the header's order.

Each module exposes ``routes: list[starlette.routing.Route]`` (paths under /app) and may expose
``nav: list[tuple[label, path, allowed]]`` - its header links; ``allowed`` is None (anyone signed
in) or a function of the :class:`webapp.auth.Identity` (e.g. ``lambda me: me.is_owner``).
A new module = one line below (the contract of /work/coord/webapp-interface.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

PAGE_MODULES = [
    "login",
    "overview",
    "store",
    "inbox",
    "trackers",
    "setup",
    "people",
    "signin",
]


def modules() -> list[ModuleType]:
    return [importlib.import_module(f"webapp.pages.{name}") for name in PAGE_MODULES]


def navigation() -> list[tuple[str, str, Callable[[Any], bool] | None]]:
    return [item for module in modules() for item in getattr(module, "nav", [])]
