"""The route table: every page module's routes (pages/__init__.py, PAGE_MODULES) and the static
files (CSS, the one small JS file), all under /app."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from webapp import render
from webapp.pages import modules

MEDIA = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
_BODIES = {name: path.read_bytes() for name, path in render.STATIC_FILES.items()}


async def static_file(request: Request) -> Response:
    name = request.path_params["name"]
    body = _BODIES.get(name)
    if body is None:
        return render.not_found(request)
    media = MEDIA.get(render.STATIC_FILES[name].suffix, "application/octet-stream")
    # The page links it with ?v=<hash of its content>: it may be kept for a year.
    return Response(body, media_type=media, headers={"Cache-Control": "public, max-age=31536000, immutable"})


def table() -> list[Route]:
    routes = [Route("/app/static/{name}", static_file, methods=["GET"])]
    seen: dict[tuple[str, str], str] = {}
    for module in modules():
        for route in module.routes:
            for method in sorted(route.methods or ()):
                key = (route.path, method)
                if key in seen:
                    raise RuntimeError(f"{method} {route.path}: in {seen[key]} and {module.__name__}")
                seen[key] = module.__name__
            routes.append(route)
    return routes
