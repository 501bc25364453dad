"""Every gateway response of template.yaml is valid JSON whatever the request's path (issue 18)."""

from __future__ import annotations

import json

import pytest

from revisit_dev.template import load_template

RESPONSES = load_template().gateway_responses
HOSTILE_PATHS = [
    '/nope","injected":"x',
    "/nope%22,%22injected%22:%22x",
    "/nope\x00\x01\x1f\n\t",
    '/nope\\"}}]',
    "/nope\u2028\ud83d\ude00$context.requestId",
]


def _keys(value):
    if isinstance(value, dict):
        return {k for k in value} | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


@pytest.mark.parametrize("kind", sorted(RESPONSES))
def test_every_template_response_is_json_with_its_own_keys_for_a_hostile_path(kind):
    response = RESPONSES[kind]
    plain = json.loads(response.render("GET", "/plain", "req-1", "Missing Authentication Token"))
    for path in HOSTILE_PATHS:
        rendered = response.render("GET", path, "req-1", "Missing Authentication Token")
        body = json.loads(rendered)  # valid JSON, whatever the path
        assert _keys(body) == _keys(plain)
        assert "injected" not in _keys(body)


def test_the_404_has_the_one_error_shape():
    """The request id travels in the x-amzn-RequestId header, as for every other answer."""
    body = json.loads(RESPONSES["MISSING_AUTHENTICATION_TOKEN"].render("GET", "/x", "req-42", "m"))
    assert body == {"error": {"code": "NOT_FOUND", "message": body["error"]["message"], "details": []}}
    assert "route" in body["error"]["message"]
