"""The package as a user installs it: `pip install` of the built wheel serves the whole platform.

Three checks, from quick to slow: every module of the platform imports without the packages of the
test extra (nothing at run time needs them); the wheel holds every file of src/urbantwin and the built
viewer (migrations, demo data, energy data, the viewer's assets); and the wheel installed into a fresh
venv (`python -m venv`, dependencies from pip's configured index, nothing of this checkout on the path)
runs `urbantwin serve` on an empty SQLite store, answering `/`, `/v1.1` and the viewer's assets.

The wheel needs the viewer built (`make viewer`); without it these tests skip with a notice saying so,
and in CI (`CI=true`) fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.request
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import backend_missing, serving
from urbantwin.web.routes import STATIC

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "urbantwin"

#: Imports every module of the platform with the given top-level modules made unimportable.
_IMPORT_ALL = """
import importlib, importlib.abc, json, pkgutil, sys
blocked = set(json.loads(sys.argv[1]))

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not a runtime dependency)", name=name)
        return None

sys.meta_path.insert(0, Blocked())
import urbantwin

def fail(name):
    raise

for module in pkgutil.walk_packages(urbantwin.__path__, "urbantwin.", onerror=fail):
    importlib.import_module(module.name)
print("imported", urbantwin.__file__)
"""


def runtime_distributions() -> set[str]:
    """The distributions a plain `pip install urbantwin` brings: its requirements (with their extras,
    such as uvicorn[standard]) and theirs, as installed here."""
    found: set[str] = set()
    seen: set[tuple[str, str]] = set()
    todo: list[tuple[str, str]] = [("urbantwin", "")]
    while todo:
        name, extra = todo.pop()
        if (canonicalize_name(name), extra) in seen:
            continue
        seen.add((canonicalize_name(name), extra))
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue  # an optional requirement for another platform or Python
        found.add(canonicalize_name(name))
        for line in requires:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                todo += [(requirement.name, ""), *((requirement.name, e) for e in requirement.extras)]
    return found


def test_the_platform_imports_without_the_test_only_packages() -> None:
    runtime = runtime_distributions()
    assert {"fastapi", "uvicorn", "uvloop", "sqlalchemy"} <= runtime  # uvloop: uvicorn[standard]
    blocked = sorted(
        module
        for module, distributions in metadata.packages_distributions().items()
        if module not in ("urbantwin", "tests")
        and not any(canonicalize_name(d) in runtime for d in distributions)
    )
    # httpx and paho-mqtt are the platform's own since `urbantwin check` (a client of any server)
    assert {"pytest", "hypothesis", "schemathesis"} <= set(blocked)
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL, json.dumps(blocked)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]


# --- the wheel ----------------------------------------------------------------------------------------


def _package_files() -> list[str]:
    """The files of src/urbantwin that the wheel must hold (relative to src/): those git tracks and
    the built viewer."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "src/urbantwin"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    files = [name.removeprefix("src/") for name in tracked.split("\0") if name]
    viewer = [path.relative_to(ROOT / "src").as_posix() for path in STATIC.rglob("*") if path.is_file()]
    return sorted({*files, *viewer})


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built (`pip wheel`) from a copy of this checkout's package files and the built viewer."""
    if not (STATIC / "index.html").is_file():
        backend_missing(f"the viewer is not built in {STATIC} (needs npm): `make viewer` builds it")
    folder = tmp_path_factory.mktemp("wheel")
    source = folder / "source"
    for name in ["pyproject.toml", "README.md", *(f"src/{f}" for f in _package_files())]:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(folder), str(source)]
    built = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    (found,) = folder.glob("urbantwin-*.whl")
    return found


def test_the_wheel_holds_every_file_of_the_package_and_the_viewer(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        packed = sorted(name for name in archive.namelist() if name.startswith("urbantwin/"))
    assert packed == _package_files()
    assert "urbantwin/web/static/index.html" in packed
    assert "urbantwin/store/migrations/versions/0001_sensorthings_schema.py" in packed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


@pytest.mark.long
def test_the_wheel_serves_the_platform_from_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    # A venv of its own, without pip (installing pip into it takes longer than the install itself):
    # this process's pip installs into it, the dependencies from pip's configured index; the
    # byte-code is left to be compiled on first import.
    # Nothing of this checkout or this test run: no PYTHONPATH, no settings, another working folder.
    environment = {
        k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("URBANTWIN_")
    }
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-compile", "--quiet"]
    installed = subprocess.run(
        [*install, str(wheel)], env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=900
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    # Importing the app compiles the byte-code of all it imports (installed with --no-compile), which
    # took the first start past two minutes on a loaded machine; the server then starts in seconds.
    where = subprocess.run(
        [str(python), "-c", "import urbantwin, urbantwin.app; print(urbantwin.__file__)"],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert Path(where.strip()).is_relative_to(venv)

    port = _free_port()
    store = tmp_path / "store.sqlite"
    command = [
        str(venv / "bin" / "urbantwin"),
        "serve",
        "--port",
        str(port),
        "--database-url",
        f"sqlite:///{store}",
    ]
    base = f"http://127.0.0.1:{port}"
    with serving(command, tmp_path, base + "/", 300, environment):
        status, page = _get(base + "/")
        assert status == 200 and page == (STATIC / "index.html").read_bytes()
        assets = re.findall(r'(?:src|href)="\./(assets/[^"]+)"', page.decode())
        assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets), assets
        for asset in assets:
            status, body = _get(f"{base}/{asset}")
            assert status == 200 and body == (STATIC / asset).read_bytes(), asset
        status, body = _get(base + "/v1.1")
        assert status == 200 and any(e["name"] == "Things" for e in json.loads(body)["value"])
        status, body = _get(base + "/ogcapi/collections")
        assert status == 200 and json.loads(body)["collections"] == []
