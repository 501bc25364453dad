"""GET /openapi.json - the API's OpenAPI 3.1 contract (docs/openapi.json, generated from the code);
GET /docs - Swagger UI on it, its assets shipped with this function (npm swagger-ui-dist, pinned in
package.json; no CDN) under a strict Content-Security-Policy. Deployed when ServeApiDocs=true."""

from pathlib import Path

from aws_lambda_powertools.event_handler import Response

from revisit.errors import NotFound
from revisit.http.app import create_app
from revisit.observability import logger

app = create_app(cors=True)  # other origins (an integrator's own tooling) may read the contract
HERE = Path(__file__).resolve().parent
DIST = HERE / "node_modules" / "swagger-ui-dist"
ASSETS = {  # the only files served: name -> (path, content type)
    "swagger-ui.css": (DIST / "swagger-ui.css", "text/css; charset=utf-8"),
    "swagger-ui-bundle.js": (DIST / "swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "swagger-initializer.js": (HERE / "swagger-initializer.js", "text/javascript; charset=utf-8"),
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
SECURITY = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Revisit API</title>'
    '<meta name="viewport" content="width=device-width,initial-scale=1">'
    '<link rel="stylesheet" href="docs/swagger-ui.css"></head>'
    '<body><main id="swagger-ui"></main>'
    '<script src="docs/swagger-ui-bundle.js"></script><script src="docs/swagger-initializer.js"></script>'
    "</body></html>"
)
_cache: dict[str, bytes] = {}


def _read(path: Path) -> bytes:
    if str(path) not in _cache:
        _cache[str(path)] = path.read_bytes()
    return _cache[str(path)]


@app.get("/openapi.json")
def contract():
    """The OpenAPI 3.1 document."""
    body = _read(HERE / "openapi.json").decode()
    headers = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
    return Response(status_code=200, content_type="application/json", body=body, headers=headers)


@app.get("/docs")
def docs():
    """Swagger UI on the contract."""
    headers = {**SECURITY, "Cache-Control": "public, max-age=300"}
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=PAGE, headers=headers)


@app.get("/docs/<asset>")
def asset(asset: str):
    """One of Swagger UI's files (a fixed list)."""
    if asset not in ASSETS:
        raise NotFound(f"No file {asset!r} here.", [{"field": "asset", "message": "unknown file"}])
    path, content_type = ASSETS[asset]
    data = _read(path)
    headers = {**SECURITY, "Cache-Control": "public, max-age=86400"}
    return Response(status_code=200, content_type=content_type, body=data.decode(), headers=headers)


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
