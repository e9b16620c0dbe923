"""The registry of partner endpoints: add, list, remove, and each one's health and last sync.

Who may register or remove a partner is the access point's answer (`authorize_admin`); who sees a
partner (and the data mirrored from it) is the access rule of the partner's local dataset, which
`add` makes (`remote-<name>`, with the partner's licence and attribution): the mirrored Datastreams
join it, so every read of them asks the same policy as any other data of the platform.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, delete, or_, select, update

from urbantwin.access.datasets import create_dataset
from urbantwin.access.gate import Access, Caller
from urbantwin.errors import BadRequest, Conflict, NotFound
from urbantwin.store.access_schema import ACCESS_LEVELS, datasets
from urbantwin.store.engine import for_reads, for_writes
from urbantwin.store.federation_schema import remotes
from urbantwin.times import format_instant

#: What a partner's endpoint speaks.
KINDS = ("sensorthings", "ogcapi", "dcat")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
#: A partner's health is written at most this often while it stays the same (`RemoteRegistry.note`).
NOTE_INTERVAL_SECONDS = 60.0
#: Requests a second to one partner unless its registration says otherwise.
DEFAULT_RATE = 10.0
API = "federation"


@dataclass(frozen=True)
class Remote:
    """A registered partner endpoint, as the services use it."""

    name: str
    url: str
    kind: str
    title: str
    attribution: str
    licence: str
    dataset_id: str
    requests_per_second: float
    health: str
    last_checked: datetime | None
    last_sync: datetime | None
    last_error: str | None
    #: Whether the mirrored Datastreams are followed live over the partner's MQTT topics.
    follow: bool = False
    #: The partner's broker, where not the one its service root names.
    mqtt_url: str | None = None

    @classmethod
    def of(cls, row: Any) -> Remote:
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})

    def document(self) -> dict[str, Any]:
        """The JSON form the admin API and the CLI show."""
        return {
            "name": self.name,
            "url": self.url,
            "kind": self.kind,
            "title": self.title,
            "attribution": self.attribution,
            "licence": self.licence,
            "dataset": self.dataset_id,
            "requests_per_second": self.requests_per_second,
            "health": self.health,
            "last_checked": format_instant(self.last_checked) if self.last_checked else None,
            "last_sync": format_instant(self.last_sync) if self.last_sync else None,
            "last_error": self.last_error,
            "follow": self.follow,
            "mqtt_url": _without_credentials(self.mqtt_url) if self.mqtt_url else None,
        }


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


def check_mqtt_url(url: str) -> str:
    """An MQTT broker's URL (`mqtt://host[:port]`, `mqtts://…`), else BadRequest naming it."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
        raise BadRequest(f"mqtt_url {_without_credentials(url)!r}: give mqtt://host[:port] or mqtts://…")
    try:
        parts.port  # noqa: B018 (a port that is not a number raises)
    except ValueError:
        raise BadRequest(f"mqtt_url {_without_credentials(url)!r}: the port is not a number") from None
    return url


def dataset_of(name: str) -> str:
    """The local dataset a partner's mirrored data joins."""
    return f"remote-{name}"


def check_remote(name: str, url: str, kind: str, requests_per_second: float) -> str:
    """The URL without a trailing slash, or BadRequest naming what is wrong."""
    if not _NAME.match(name):
        raise BadRequest(f"name {name!r}: lower-case letters, digits and '-', at most 63, e.g. 'hamburg-sta'")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadRequest(f"url {url!r} is not an http(s) URL")
    if parts.fragment:
        raise BadRequest(f"url {url!r}: give the endpoint without a fragment")
    if kind not in KINDS:
        raise BadRequest(f"kind {kind!r}: one of {', '.join(KINDS)}")
    if parts.query and kind != "dcat":
        raise BadRequest(f"url {url!r}: a {kind} endpoint is given by its root, without a query")
    if not 0 < requests_per_second <= 1000:
        raise BadRequest("requests_per_second must be above 0 and at most 1000")
    return url if parts.query else url.rstrip("/")


class RemoteRegistry:
    """The partner endpoints of the store, behind the access point."""

    def __init__(self, engine: Engine, access: Access) -> None:
        self.engine = engine
        self.access = access
        #: Per partner, what this process last wrote of its health (state, error, monotonic moment).
        self._noted: dict[str, tuple[str, str | None, float]] = {}
        self._noted_lock = threading.Lock()

    def add(
        self,
        caller: Caller,
        name: str,
        url: str,
        kind: str,
        *,
        title: str | None = None,
        attribution: str,
        licence: str,
        access_level: str = "open",
        requests_per_second: float = DEFAULT_RATE,
    ) -> Remote:
        """Register a partner (and make its local dataset); Conflict if the name is taken."""
        self.access.authorize_admin(caller)
        url = check_remote(name, url, kind, requests_per_second)
        if not attribution.strip():
            raise BadRequest("attribution: say whom the data is from (it is shown beside it)")
        if not licence.strip():
            raise BadRequest("licence: give the licence of the partner's data")
        if access_level not in ACCESS_LEVELS:
            raise BadRequest(f"access_level must be one of {', '.join(ACCESS_LEVELS)}")
        now = datetime.now(UTC)
        dataset = dataset_of(name)
        with for_writes(self.engine).begin() as connection:
            if connection.execute(select(remotes.c.name).where(remotes.c.name == name)).first():
                raise Conflict(f"a remote {name!r} is registered already")
            if not connection.execute(select(datasets.c.id).where(datasets.c.id == dataset)).first():
                create_dataset(
                    connection,
                    dataset,
                    title=title or name,
                    description=f"Mirrored from {url} ({kind}); data: {attribution}",
                    licence=licence,
                    access_level=access_level,
                    extra={"remote": name, "source": url, "attribution": attribution},
                )
            connection.execute(
                remotes.insert().values(
                    name=name,
                    url=url,
                    kind=kind,
                    title=title or name,
                    attribution=attribution,
                    licence=licence,
                    dataset_id=dataset,
                    requests_per_second=requests_per_second,
                    created=now,
                    health="unknown",
                )
            )
            return self._get(connection, name)

    def remove(self, caller: Caller, name: str) -> None:
        """Forget a partner (its mirror cursors and harvested records); mirrored data stays in its dataset."""
        self.access.authorize_admin(caller)
        with for_writes(self.engine).begin() as connection:
            if connection.execute(delete(remotes).where(remotes.c.name == name)).rowcount == 0:
                raise NotFound(f"no remote {name!r}")

    def listing(self, caller: Caller) -> list[Remote]:
        """The partners the caller may see (those whose dataset they may read)."""
        with for_reads(self.engine).connect() as connection:
            scope = self.access.scope(caller, connection)
            rows = connection.execute(select(remotes).order_by(remotes.c.name)).all()
        shown = [Remote.of(row) for row in rows if scope.allows(row.dataset_id)]
        self.access.record_read(caller, API, [r.dataset_id for r in shown] or [None])
        return shown

    def get(self, caller: Caller, name: str) -> Remote:
        """One partner, if the caller may see it (else NotFound, as for one that does not exist)."""
        with for_reads(self.engine).connect() as connection:
            scope = self.access.scope(caller, connection)
            found = connection.execute(select(remotes).where(remotes.c.name == name)).first()
        if found is None or not scope.allows(found.dataset_id):
            raise NotFound(f"no remote {name!r}")
        self.access.record_read(caller, API, [found.dataset_id])
        return Remote.of(found)

    def _get(self, connection: Connection, name: str) -> Remote:
        found = connection.execute(select(remotes).where(remotes.c.name == name)).first()
        if found is None:
            raise NotFound(f"no remote {name!r}")
        return Remote.of(found)

    def record(self, name: str, error: str | None, synced: bool = True) -> None:
        """Note the outcome of talking to a partner: healthy (and synced), or failing with `error`."""
        now = datetime.now(UTC)
        values: dict[str, Any] = {"last_checked": now, "health": "failing" if error else "ok"}
        values["last_error"] = error[:2000] if error else None
        if synced and not error:
            values["last_sync"] = now
        with for_writes(self.engine).begin() as connection:
            connection.execute(update(remotes).where(remotes.c.name == name).values(**values))

    def note(self, remote: Remote, error: str | None) -> None:
        """Note a partner's answer to a read-through (`error`: why it failed, None: it worked) as
        its health, without a write on every read: only when the state or the reason changes from
        what `remote` (as just read) and this process last wrote say, or once `NOTE_INTERVAL_SECONDS`
        have passed (so `last_checked` and `last_sync` stay roughly current)."""
        state = "failing" if error else "ok"
        error = error[:2000] if error else None
        now = time.monotonic()
        with self._noted_lock:
            written = self._noted.get(remote.name)
            if written and written[:2] == (state, error) and now - written[2] < NOTE_INTERVAL_SECONDS:
                return
            stored_age = (
                (datetime.now(UTC) - remote.last_checked).total_seconds()
                if remote.last_checked is not None
                else None
            )
            unchanged = remote.health == state and remote.last_error == error
            if unchanged and stored_age is not None and stored_age < NOTE_INTERVAL_SECONDS:
                return
            self._noted[remote.name] = (state, error, now)
        self.record(remote.name, error)

    # --- following live ---------------------------------------------------------------------------

    def set_follow(self, caller: Caller, name: str, follow: bool, mqtt_url: str | None = None) -> Remote:
        """Follow a SensorThings partner live (or stop); `mqtt_url` overrides its broker ("" clears
        the override, None leaves it). Administrators only."""
        self.access.authorize_admin(caller)
        values: dict[str, Any] = {"follow": follow}
        if mqtt_url is not None:
            values["mqtt_url"] = check_mqtt_url(mqtt_url) if mqtt_url else None
        with for_writes(self.engine).begin() as connection:
            remote = self._get(connection, name)
            if follow and remote.kind != "sensorthings":
                raise BadRequest(
                    f"remote {name!r} is a {remote.kind} endpoint: only SensorThings is followed"
                )
            connection.execute(update(remotes).where(remotes.c.name == name).values(**values))
            return self._get(connection, name)

    def followed(self) -> list[Remote]:
        """The partners to follow live."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(remotes).where(remotes.c.follow.is_(True)).order_by(remotes.c.name)
            ).all()
        return [Remote.of(row) for row in rows]

    def claim(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew the lease of following `name` for `seconds`: True when `holder` has it (no
        one else held it, or their lease ran out). One statement, so two processes never both win."""
        now = datetime.now(UTC)
        with for_writes(self.engine).begin() as connection:
            taken = connection.execute(
                update(remotes)
                .where(
                    remotes.c.name == name,
                    remotes.c.follow.is_(True),
                    or_(
                        remotes.c.follower.is_(None),
                        remotes.c.follower == holder,
                        remotes.c.follower_until.is_(None),
                        remotes.c.follower_until < now,
                    ),
                )
                .values(follower=holder, follower_until=now + timedelta(seconds=seconds))
            )
            return taken.rowcount == 1

    def release(self, name: str, holder: str) -> None:
        """Give up the lease of following `name` (if `holder` has it), for another process to take."""
        with for_writes(self.engine).begin() as connection:
            connection.execute(
                update(remotes)
                .where(remotes.c.name == name, remotes.c.follower == holder)
                .values(follower=None, follower_until=None)
            )
