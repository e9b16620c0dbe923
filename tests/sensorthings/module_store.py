"""A store on one backend that lives for a whole test module, for tests that only read a dataset.

The `client` fixture empties the store before every test; tests that run hundreds of read-only
queries against one dataset (the `$filter` table, the property-based tests) load it once per module
instead, into a store of their own: a SQLite file, or a PostgreSQL database next to the session's
(emptied and used again by the next module: see `spare_database`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ADMIN_TOKEN, _settings, spare_database
from urbantwin.app import create_app
from urbantwin.store.engine import make_engine, upgrade


@contextmanager
def module_store(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """An HTTP client (writing as the administrator) of an app on a new, migrated store."""
    with ExitStack() as stack:
        if backend == "postgresql":
            session_url: str = request.getfixturevalue("postgres_url")  # skips or fails without it
            url = stack.enter_context(spare_database(session_url))
        else:
            url = f"sqlite:///{tmp_path_factory.mktemp('module_store') / 'store.sqlite'}"
        settings = _settings(url, request.getfixturevalue("viewer_dir"))
        engine = make_engine(settings)
        stack.callback(engine.dispose)
        upgrade(engine)
        with TestClient(create_app(settings, engine), base_url="http://testserver") as client:
            client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
            yield client
