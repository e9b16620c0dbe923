"""Any city: the platform's code names no city. Leipzig is the demo (src/urbantwin/demo/), and a city is
its profile and its data; a name of the demo city or of its data's properties in code would make the
platform the demo's again."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The demo city and the German names of its data's properties (residents per year, its districts).
DEMO_CITY = re.compile(r"leipzig|einwohner_|ortsteil|plagwitz|lindenau", re.IGNORECASE)
CODE = {".py", ".js", ".mjs", ".html", ".css", ".toml"}


def code_files() -> list[Path]:
    roots = [ROOT / "src" / "urbantwin", ROOT / "web" / "src", ROOT / "web" / "index.html"]
    skipped = (ROOT / "src" / "urbantwin" / "demo", ROOT / "src" / "urbantwin" / "web" / "static")
    files = [p for root in roots for p in ([root] if root.is_file() else root.rglob("*"))]
    return [p for p in files if p.suffix in CODE and not any(p.is_relative_to(s) for s in skipped)]


def test_no_code_outside_the_demo_names_the_demo_city() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in code_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if DEMO_CITY.search(line)
    ]
    assert found == []


def test_the_scan_sees_the_code() -> None:
    names = {path.name for path in code_files()}
    assert {"app.py", "city_profile.py", "main.js", "index.html"} <= names
