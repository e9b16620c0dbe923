"""`/docs`: the OpenAPI document in the browser, from files of the installed packages only."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from urbantwin.web.docs import ASSETS


def test_the_page_names_no_other_host_and_has_no_inline_script(anonymous: TestClient) -> None:
    page = anonymous.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "//" not in html  # no absolute URL at all: everything relative to the server
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="docs/' in attributes and not body.strip() for attributes, body in scripts)
    assert "<style" not in html and " on" not in html


def test_its_files_answer_from_the_installed_packages(anonymous: TestClient) -> None:
    kinds = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
    for name in ASSETS:
        answer = anonymous.get(f"/docs/{name}")
        assert answer.status_code == 200, name
        assert kinds[name[name.rindex(".") :]] in answer.headers["content-type"], name
        assert answer.content
    assert "'openapi.json'" in anonymous.get("/docs/init.js").text
    bundle = anonymous.get("/docs/swagger-ui-bundle.js")
    again = anonymous.get("/docs/swagger-ui-bundle.js", headers={"If-None-Match": bundle.headers["ETag"]})
    assert again.status_code == 304


def test_no_other_file_is_served(anonymous: TestClient) -> None:
    for name in ("redoc.standalone.js", "..%2F..%2Fpyproject.toml", "core.py"):
        answer = anonymous.get(f"/docs/{name}")
        assert answer.status_code == 404, name
        assert answer.json()["type"] == "error"


def test_the_openapi_document_still_lists_no_docs_route(anonymous: TestClient) -> None:
    paths = anonymous.get("/openapi.json").json()["paths"]
    assert not any(path.startswith("/docs") for path in paths)
