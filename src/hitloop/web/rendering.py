"""Templates, static files and the security headers every page carries."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = [
    "STATIC_DIR",
    "TEMPLATE_DIR",
    "CachedStaticFiles",
    "PageRenderer",
    "renderer_of",
    "static_versions",
]

WEB_DIR = Path(__file__).parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

# Pages use no inline script or style: data reaches scripts through
# <script type="application/json"> blocks, which are never executed.
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def static_versions(directory: Path = STATIC_DIR) -> dict[str, str]:
    """A short content hash per static file, used as its ``?v=`` cache buster."""
    return {
        path.relative_to(directory).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


class CachedStaticFiles(StaticFiles):
    """Static files that browsers keep forever when asked for by their current version.

    ``/static/label.js?v=<hash>`` is immutable; any other request (an ES module's
    relative import, an old version) must be revalidated with its ETag.
    """

    def __init__(self, *, directory: Path, versions: Mapping[str, str]) -> None:
        super().__init__(directory=directory)
        self.versions = versions

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            query = scope.get("query_string", b"").decode("latin-1")
            wanted = self.versions.get(path.replace("\\", "/"))
            fresh = wanted is not None and f"v={wanted}" in query.split("&")
            response.headers["Cache-Control"] = IMMUTABLE if fresh else REVALIDATE
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response


class PageRenderer:
    """Renders a template with its one typed context object, ``page``."""

    def __init__(self, versions: Mapping[str, str], directory: Path = TEMPLATE_DIR) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(directory),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.versions = dict(versions)
        self.env.globals["static_url"] = self.static_url

    def static_url(self, name: str) -> str:
        version = self.versions.get(name)
        if version is None:
            raise LookupError(f"no static file {name!r}")
        return f"/static/{name}?v={version}"

    def render(self, request: Request, template: str, page: Any, *, status_code: int = 200) -> HTMLResponse:
        html = self.env.get_template(template).render(page=page, request=request)
        return HTMLResponse(html, status_code=status_code, headers=dict(SECURITY_HEADERS))


def renderer_of(request: Any) -> PageRenderer:
    """The app's page renderer (set on ``app.state.pages`` when the pages are installed)."""
    renderer: PageRenderer = request.app.state.pages
    return renderer
