"""The OpenAPI document in the browser (`/docs`), served whole from the installed packages.

FastAPI's own page loads Swagger UI from a CDN (blank on a network without internet) and starts it
with an inline script (refused by the platform's Content-Security-Policy). Here the page is our own:
Swagger UI's files come from the `fastapi-offline` package (a maintained wheel of swagger-ui-dist, so
/docs needs neither Node.js nor the viewer's build), and the start-up script is a file beside this
module (`docs/init.js`).
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from urbantwin.errors import NotFound
from urbantwin.web.routes import REVALIDATE, file_response

#: Swagger UI's distribution files, as the package ships them.
SWAGGER_UI = Path(fastapi_offline.__file__).parent / "static"
#: Our own files of the page.
OWN = Path(__file__).parent / "docs"
#: What `/docs/{name}` serves, and from where.
ASSETS = {
    "swagger-ui-bundle.js": SWAGGER_UI / "swagger-ui-bundle.js",
    "swagger-ui.css": SWAGGER_UI / "swagger-ui.css",
    "favicon.png": SWAGGER_UI / "favicon.png",
    "init.js": OWN / "init.js",
}
#: The files change with the installed packages only; a day of caching, revalidated by ETag after.
ASSET_CACHING = "public, max-age=86400"

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – API documentation</title>
<link rel="icon" type="image/png" href="docs/favicon.png">
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
"""


def docs_router(title: str) -> APIRouter:
    """`/docs` and its files."""
    router = APIRouter(include_in_schema=False)
    page = PAGE.format(title=title)

    @router.get("/docs")
    async def docs() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": REVALIDATE})

    @router.get("/docs/{name}")
    async def docs_file(request: Request, name: str) -> Response:
        path = ASSETS.get(name)
        if path is None or not path.is_file():
            raise NotFound(f"no file {name!r} of the API documentation")
        return file_response(request, path, ASSET_CACHING)

    return router
