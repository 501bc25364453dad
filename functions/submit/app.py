"""POST /api/external/public/submit - a customer's answer; the token is the only credential.

201 with the new record; 200 with ``Idempotent-Replayed: true`` and the FIRST record when the
request repeats an earlier one (the same answer on a one-time token, or the same
``Idempotency-Key`` and answer on a campaign token).
"""

from revisit.domain import submissions
from revisit.http.app import body, create_app, header, json_response
from revisit.http.schemas import Submit
from revisit.observability import logger

app = create_app(cors=True)  # survey UIs on other origins may post here


@app.post("/api/external/public/submit")
def submit():
    req = body(app, Submit, max_bytes=16 * 1024)
    result = submissions.submit(
        req.token, req.rating, req.comment, req.civ, idempotency_key=header(app, "Idempotency-Key")
    )
    feedback = result.feedback
    return json_response(
        200 if result.replayed else 201,
        {"id": feedback["id"], "status": "received", "rating": feedback["rating"], "createdAt": feedback["createdAt"]},
        {"Idempotent-Replayed": "true"} if result.replayed else None,
    )


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
