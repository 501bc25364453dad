"""GET /api/external/dashboard (CIV loyalty metrics), /api/external/dashboard/stores (every store
at once), /api/external/dashboard/series (trends) and /api/external/nps-score, from the aggregates
only."""

from revisit.domain import analytics
from revisit.domain.auth import Kind
from revisit.http.analytics_schemas import DashboardQuery, PeriodQuery, SeriesQuery
from revisit.http.app import create_app, json_response, principal, query
from revisit.observability import logger

app = create_app()


@app.get("/api/external/dashboard")
def dashboard():
    caller = principal(app, Kind.API, Kind.OWNER)
    q = query(app, DashboardQuery)
    metrics = analytics.dashboard(caller, q.storeSlug, q.from_, q.to)
    return json_response(200, metrics, {"Cache-Control": "private, no-store"})


@app.get("/api/external/dashboard/stores")
def dashboard_stores():
    """One row per store the caller may see (a store key: its own) and the workspace total."""
    caller = principal(app, Kind.API, Kind.OWNER)
    q = query(app, PeriodQuery)
    return json_response(200, analytics.store_rows(caller, q.from_, q.to), {"Cache-Control": "private, no-store"})


@app.get("/api/external/dashboard/series")
def dashboard_series():
    """One store's metrics per day, week or month of its local calendar (buckets from local midnight)."""
    caller = principal(app, Kind.API, Kind.OWNER)
    q = query(app, SeriesQuery)
    metrics = analytics.series(caller, q.storeSlug, q.from_, q.to, q.interval)
    return json_response(200, metrics, {"Cache-Control": "private, no-store"})


@app.get("/api/external/nps-score")
def nps_score():
    caller = principal(app, Kind.API, Kind.OWNER)
    q = query(app, DashboardQuery)
    return json_response(
        200, analytics.nps_score(caller, q.storeSlug, q.from_, q.to), {"Cache-Control": "private, no-store"}
    )


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
