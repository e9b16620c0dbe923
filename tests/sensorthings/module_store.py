"""A store on one backend that lives for a whole test module, for tests that only read a dataset.

The `client` fixture empties the store before every test; tests that run hundreds of read-only
queries against one dataset (the `$filter` table, the property-based tests) load it once per module
instead, into a store of their own: a SQLite file, or a PostgreSQL database next to the session's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from tests.conftest import ADMIN_TOKEN, _settings, create_test_database
from urbantwin.app import create_app
from urbantwin.store.engine import make_engine, upgrade


@contextmanager
def module_store(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """An HTTP client (writing as the administrator) of an app on a new, migrated store."""
    admin = None
    name = ""
    if backend == "postgresql":
        session_url: str = request.getfixturevalue("postgres_url")  # skips or fails without PostgreSQL
        name = f"{session_url.rsplit('/', 1)[1]}_m{uuid.uuid4().hex[:6]}"
        admin = create_engine(session_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            create_test_database(connection, name)
        url = session_url.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('module_store') / 'store.sqlite'}"
    settings = _settings(url, request.getfixturevalue("viewer_dir"))
    engine = make_engine(settings)
    try:
        upgrade(engine)
        with TestClient(create_app(settings, engine), base_url="http://testserver") as client:
            client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
            yield client
    finally:
        engine.dispose()
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
