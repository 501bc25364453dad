"""GET /api/external/feedback (search), GET /api/external/feedback/export (CSV / JSON lines) and
GET /api/external/trackers/report (sent, clicked, completed per survey, attempt and channel)."""

from aws_lambda_powertools.event_handler import Response

from revisit.domain import feedback, reports
from revisit.domain.auth import Kind
from revisit.http.analytics_schemas import DashboardQuery
from revisit.http.app import create_app, json_response, principal, query
from revisit.http.schemas import FeedbackQuery
from revisit.observability import logger

app = create_app()


@app.get("/api/external/feedback")
def search():
    caller = principal(app, Kind.API, Kind.OWNER)
    q = query(app, FeedbackQuery)
    return json_response(200, feedback.search(caller, q.filters(), q.limit, q.cursor))


@app.get("/api/external/feedback/export")
def export():
    caller = principal(app, Kind.API, Kind.OWNER)
    q = query(app, FeedbackQuery)
    text, next_cursor, rows = feedback.export(caller, q.filters(), q.format, q.cursor)
    headers = {
        "Content-Disposition": f'attachment; filename="feedback.{q.format}"',
        "X-Revisit-Rows": str(rows),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    if next_cursor:
        headers["X-Revisit-Next-Cursor"] = next_cursor
    content_type = "text/csv; charset=utf-8" if q.format == "csv" else "application/x-ndjson; charset=utf-8"
    return Response(status_code=200, content_type=content_type, body=text, headers=headers)


@app.get("/api/external/trackers/report")
def tracker_report():
    """Owner, workspace key or the store's own key; whole UTC days, at most 366 (400 naming the field)."""
    caller = principal(app, Kind.API, Kind.OWNER)
    q = query(app, DashboardQuery)
    answer = reports.report(caller, q.storeSlug, q.from_, q.to)
    return json_response(200, answer, {"Cache-Control": "private, no-store"})


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
