"""Each tenant's share of the API (issue 18 part 4, docs/operations.md "Abuse limits").

A workspace may make ``TENANT_REQUESTS_PER_MINUTE`` authenticated requests a minute (all its
credentials, every function together; the template's ``TenantRequestsPerMinute``: 0 = off by
default, 6,000 in the ``prod`` config). Beyond it, 429 with
Retry-After (the seconds to the next minute) - other workspaces are not touched.

How, without a call on the warm path: every container counts the requests it admits per
workspace and reports them when it reads a credential again anyway - at most every 5 s per
credential (the revocation bound, revisit.domain.auth) - with ONE UpdateItem (``ADD count``) of
the workspace's minute counter ``RATE#<ws>`` / ``W#<epoch minute>``, whose answer is the total of
every container. Over the limit, the container refuses that workspace until the minute ends, and
every other container learns it at its own next report (<= 5 s). A container also refuses on its
own count alone (a single container cannot exceed the limit between reports). So a tenant can
exceed its minute by at most what its containers admit in the 5 s before their reports; it can
never take more than that from the stage's shared throttle, whose default is 100 req/s.

Cost: 0 calls per request within 5 s of a container's last credential read; 1 UpdateItem
(~1 WCU) per credential re-read that has requests to report (at most one per 5 s per container
and credential; none on a cold start). The counter failing (throttled, no permission) admits the
request: the limit protects capacity, it is not an authorisation.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from revisit.config import settings
from revisit.dal import limits as dal
from revisit.errors import RevisitError

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60
_wall = time.time  # tests move it


class TenantLimited(RevisitError):
    """The workspace used up its requests of this minute (HTTP 429 with Retry-After)."""

    code = "TOO_MANY_REQUESTS"

    def __init__(self, retry_after: int) -> None:
        super().__init__("This workspace made too many requests this minute; retry after the Retry-After seconds.")
        self.retry_after = max(1, retry_after)


@dataclass
class _Tenant:
    window: int
    pending: int = 0  # admitted here since the last report
    local: int = 0  # admitted here in this window
    blocked: bool = False


_tenants: dict[str, _Tenant] = {}


def clear() -> None:
    _tenants.clear()


def admit(workspace_id: str, fresh_read: bool) -> None:
    """Count one authenticated request of the workspace, or raise TenantLimited. ``fresh_read``:
    the credential was just read from the table (the moment to report, see the module doc)."""
    limit = settings().tenant_requests_per_minute
    if limit <= 0:
        return
    now = _wall()
    window = int(now // WINDOW_SECONDS)
    tenant = _tenants.get(workspace_id)
    if tenant is None or tenant.window != window:
        carried = tenant.pending if tenant is not None else 0  # reported into the new minute
        tenant = _tenants[workspace_id] = _Tenant(window, pending=carried)
    if fresh_read and tenant.pending:
        try:
            total = dal.add_use(workspace_id, window, tenant.pending, (window + 2) * WINDOW_SECONDS + 60)
        except Exception as exc:  # fail open: the limit protects capacity, it is not an authorisation
            log.warning("tenant counter unavailable", extra={"error": type(exc).__name__})
        else:
            tenant.pending = 0
            tenant.blocked = total >= limit
    if tenant.blocked or tenant.local >= limit:
        raise TenantLimited(int((window + 1) * WINDOW_SECONDS - now) + 1)
    tenant.pending += 1
    tenant.local += 1
