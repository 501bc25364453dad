"""The docs function: the contract at /openapi.json and Swagger UI at /docs, no CDN, strict CSP."""

from __future__ import annotations

import json
import re

from revisit_dev import openapi
from revisit_dev.template import load_template
from tests.support import api_event, invoke


def get(path, resource=None, params=None, headers=None):
    return invoke("docs", api_event("GET", path, resource=resource or path, path_params=params, headers=headers))


def test_the_contract_is_served_as_generated():
    reply = get("/openapi.json", headers={"Origin": "https://tools.example.com"})
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    assert reply.json == json.loads(openapi.OUT.read_text())
    assert reply.headers["access-control-allow-origin"] == "*"


def test_swagger_ui_loads_only_its_own_files_under_a_strict_policy():
    page = get("/docs")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("docs/") for s in sources), sources  # relative: no CDN
    assert "<script>" not in page.text  # no inline script
    for source in sources:
        name = source.removeprefix("docs/")
        asset = get(f"/docs/{name}", "/docs/{asset}", {"asset": name})
        assert asset.status == 200 and len(asset.text) > 50, name
    assert (
        "SwaggerUIBundle"
        in get("/docs/swagger-initializer.js", "/docs/{asset}", {"asset": "swagger-initializer.js"}).text
    )


def test_only_the_listed_files_are_served():
    for name in ("..%2Fapp.py", "app.py", "package.json", "swagger-ui-bundle.js.map"):
        assert get(f"/docs/{name}", "/docs/{asset}", {"asset": name}).status == 404


def test_the_function_is_behind_a_parameter():
    docs = {f.logical_id for f in load_template().functions}
    assert "DocsFunction" in docs  # on by default (make dev serves it)
    off = {f.logical_id for f in load_template(parameters={"ServeApiDocs": "false"}).functions}
    assert "DocsFunction" not in off and "TokenFunction" in off
