"""POST /api/external/public/submit - a customer's answer; the token is the only credential."""

from revisit.domain import submissions
from revisit.http.app import body, create_app, json_response
from revisit.http.schemas import Submit
from revisit.observability import logger

app = create_app(cors=True)  # survey UIs on other origins may post here


@app.post("/api/external/public/submit")
def submit():
    req = body(app, Submit, max_bytes=16 * 1024)
    feedback = submissions.submit(req.token, req.rating, req.comment, req.civ)
    return json_response(
        201,
        {"id": feedback["id"], "status": "received", "rating": feedback["rating"], "createdAt": feedback["createdAt"]},
    )


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
