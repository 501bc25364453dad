"""The one Logger and the one Metrics of a container (Powertools: JSON logs, CloudWatch EMF).

Every function imports ``logger`` (and ``metrics`` when it emits any) from here, so the service
name, the namespace and the log format are set in one place: ``POWERTOOLS_SERVICE_NAME`` and
``POWERTOOLS_METRICS_NAMESPACE`` (template.yaml ``Globals``; "Revisit" when unset). This module
imports nothing heavy (no pydantic, no REST resolver, no boto3 client): the event functions' cold
start depends on it.

Metrics are flushed by ``@metrics.log_metrics`` on the handler; a handler that added none emits
nothing (``raise_on_empty_metrics`` stays off).
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

__all__ = ["MetricUnit", "logger", "metrics"]

logger = Logger()
# The template sets the namespace; the fallback keeps a flush from failing where nothing set it
# (a test, a script): Powertools refuses to flush metrics without a namespace.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Revisit")
