"""The one Logger and the one Metrics of a container (Powertools: JSON logs, CloudWatch EMF).

Every function imports ``logger`` (and ``metrics`` when it emits any) from here, so the service
name, the namespace and the log format are set in one place: ``POWERTOOLS_SERVICE_NAME`` and
``POWERTOOLS_METRICS_NAMESPACE`` (template.yaml ``Globals``; "Revisit" when unset). This module
imports nothing heavy (no pydantic, no REST resolver, no boto3 client): the event functions' cold
start depends on it.

Metrics are flushed by ``@metrics.log_metrics`` on the handler; a handler that added none emits
nothing (``raise_on_empty_metrics`` stays off).

No capability reaches a log line (issue 18): every line the Logger writes - messages, extra keys,
an event logged by ``POWERTOOLS_LOGGER_LOG_EVENT``, tracebacks - goes through :func:`redact`, which
keeps a one-time token as ``tkn_…abcd`` (its first 4 characters: enough to tell two apart) and
replaces API keys, owner tokens, partner and shop secrets entirely.
"""

from __future__ import annotations

import os
import re

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit

__all__ = ["MetricUnit", "logger", "metrics", "redact"]

_TOKEN = re.compile(r"tkn_([A-Za-z0-9]{4})[A-Za-z0-9]+")
# Owner tokens (nk_live_), API keys (nk_), partner secrets (sk_), web app sign-in links (sil_): the
# prefix stays, nothing of the secret.
_SECRET = re.compile(r"\b(nk_live_|nk_|sk_|sil_)[A-Za-z0-9]{8,}")
# A shop secret has no prefix: it is recognised by its name (query string, JSON, or a Python repr).
_NAMED = re.compile(
    r"""(shop_secret|shopSecret|apiSecret|x-api-secret|x-api-key)(["']?\s*[:=]\s*\[?\s*["']?)[^"'&\s,}\[\]]+""",
    re.I,
)


def redact(text: str) -> str:
    """``text`` without a full token or secret (see the module's docstring)."""
    text = _TOKEN.sub(lambda m: f"tkn_…{m.group(1)}", text)
    text = _SECRET.sub(lambda m: f"{m.group(1)}…", text)
    return _NAMED.sub(lambda m: f"{m.group(1)}{m.group(2)}…", text)


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines, redacted after serialisation: nothing escapes (keys, nested events)."""

    def serialize(self, log) -> str:
        return redact(super().serialize(log))


logger = Logger(logger_formatter=RedactingFormatter())
# The template sets the namespace; the fallback keeps a flush from failing where nothing set it
# (a test, a script): Powertools refuses to flush metrics without a namespace.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Revisit")
