"""Settings of a running platform, from `URBANTWIN_*` environment variables or a TOML file.

Every setting is declared once, here, with its default and what it is for; the CLI, the server and
the tests all build a `Settings` through `load_settings`, so no module reads the environment itself.
A TOML file (path in `URBANTWIN_CONFIG` or `--config`) holds the same keys in lower case; the
environment wins over the file, explicit arguments win over both.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_DATABASE_URL = "sqlite:///urbantwin.sqlite"
#: Where scenario runs are computed (the setting `scenario_worker`).
SCENARIO_WORKERS = ("server", "separate")


@dataclass(frozen=True)
class Settings:
    #: SQLAlchemy URL of the store: `sqlite:///path.sqlite` (embedded default) or
    #: `postgresql+psycopg://user@host/db` (PostgreSQL with PostGIS).
    database_url: str = DEFAULT_DATABASE_URL
    #: Address `urbantwin serve` binds to (`0.0.0.0`: every interface).
    host: str = "127.0.0.1"
    #: Port `urbantwin serve` binds to.
    port: int = 8000
    #: Public base URL used in links (`@iot.selfLink`, `@iot.nextLink`, OGC API links). Empty: taken
    #: from the request, honouring `X-Forwarded-Proto`/`-Host`/`-Prefix` from trusted proxies only.
    public_base_url: str = ""
    #: The reverse proxies whose `X-Forwarded-*` headers are believed, separated by commas: addresses
    #: or networks (`127.0.0.1, 10.0.0.0/8`). Empty (the default): no forwarded header is believed, so
    #: no client can make the server write links to an address of its choosing.
    trusted_proxies: tuple[str, ...] = ()
    #: Largest page of a collection; `$top` above it is capped and a nextLink is given.
    max_top: int = 10_000
    #: Page size when the client gives no `$top`.
    default_top: int = 100
    #: Largest request body accepted, in bytes (JSON, batch, dataArray).
    max_body_bytes: int = 64 * 1024 * 1024
    #: Deepest nesting of arrays and objects accepted in any JSON input (bodies, broker messages,
    #: imported files, filters). Well below what can be written back, so every accepted document can
    #: be stored and read by everyone.
    max_json_depth: int = 64
    #: Longest filter (SensorThings `$filter` or other query option, CQL2 `filter`), in characters.
    max_filter_length: int = 20_000
    #: Deepest filter: nested parentheses, functions and operators (each operator of a chain counts).
    max_filter_depth: int = 100
    #: Most levels of `$expand` in one request (`A/B` and `A($expand=B)` are both two levels).
    max_expand_depth: int = 6
    #: Most navigation properties one request's `$expand` names, all levels together.
    max_expand_breadth: int = 32
    #: Largest OGC API Features `offset` and SensorThings `$skip` (default: the 64-bit range).
    max_offset: int = 2**63 - 1
    #: How long a client or a shared cache may keep a page of OGC API features (items and single
    #: features) before asking again, in seconds (`max-age`; it revalidates by ETag, cheaply); 0:
    #: revalidate every time. Restricted collections are `private` (kept by the reader's own cache).
    features_max_age_seconds: int = 30
    #: Whether this server process follows partners live over their MQTT topics (the mirrors set to
    #: follow, docs/federation.md): each partner is followed by one process of those that do, which
    #: holds its lease. Off: this process leaves them to others.
    federation_follow: bool = True
    #: Origins allowed to call the APIs from a browser; `*` allows any (reads are open data).
    cors_origins: tuple[str, ...] = ("*",)
    #: Longest time one database statement may run, in seconds; a longer one is stopped and the
    #: request answered 400 (the query is too expensive), so no request can exhaust the server.
    query_timeout_seconds: int = 30
    #: Number of pooled database connections per server process (PostgreSQL).
    pool_size: int = 8
    #: SQLAlchemy URLs of PostgreSQL streaming replicas of `database_url` (made with
    #: `pg_basebackup -R`), separated by commas. Reads go to a replica that is up and within
    #: `database_replica_max_lag_seconds`; writes, and the next reads of the client that wrote, go to
    #: the primary (docs/scaling.md). Empty (the default): every read goes to the primary.
    database_replica_urls: tuple[str, ...] = ()
    #: How far behind the primary a replica may be, in seconds, and still be read from; a replica
    #: further behind (or unreachable) is skipped until it has caught up.
    database_replica_max_lag_seconds: int = 5
    #: Log level of the server (`debug`, `info`, `warning`, `error`).
    log_level: str = "info"
    #: Form of the server's log lines: `text` (the default, for a terminal) or `json` (one object per
    #: line with the time, level, logger, message and the request's id, for a log collector). Nothing
    #: secret is logged in either (docs/operations.md).
    log_format: str = "text"
    #: A token that may read the Prometheus metrics at `/metrics` (`Authorization: Bearer <token>`),
    #: for a scraper that is no user of the platform; administrators may read them too. Empty (the
    #: default): administrators only. Never logged.
    metrics_token: str = field(default="", repr=False)
    #: Whether anonymous clients may write. A fresh install refuses anonymous writes; the demo
    #: and the test suite turn it on explicitly for their own store.
    allow_anonymous_writes: bool = False
    #: A bootstrap administrator token for automation; never logged. Empty: none.
    admin_token: str = field(default="", repr=False)
    #: The dataset that SensorThings entities created without a parent or a user's own dataset
    #: join; created at start as open data of `default_publisher` if it does not exist.
    default_dataset: str = "sensorthings"
    #: The organisation that publishes the default dataset (the city running the platform).
    default_publisher: str = "city"
    #: Title of that organisation in the catalogue, used when it is created at start.
    default_publisher_title: str = "City administration"
    #: Single sign-on: the issuer URL of an OIDC provider (a Keycloak realm's URL). Empty: no SSO.
    oidc_issuer: str = ""
    #: Where the issuer's signing keys are (its JWKS document); empty: the issuer's discovery
    #: document (`/.well-known/openid-configuration`) says.
    oidc_jwks_url: str = ""
    #: The audience OIDC tokens must be issued for (the client id of this platform); empty: any.
    oidc_audience: str = ""
    #: The token claim whose values name groups of this platform (Keycloak: "groups").
    oidc_groups_claim: str = "groups"
    #: URL of a MapLibre style JSON the web viewer draws beneath the platform's layers (for example a
    #: city's own base-map service). Empty (the default): the viewer draws its base map from the
    #: platform's own layers only and makes no request to any other server.
    viewer_style_url: str = ""
    #: The folder of the built web viewer served at `/`; empty (the default): the build inside the
    #: package (`make viewer`). Another folder serves another build (the tests serve a tiny one).
    viewer_dir: str = ""
    #: The MQTT broker of the SensorThings MQTT extension, `mqtt://[user:password@]host:1883` (the
    #: credentials are the server's own at the broker; never logged). Empty: MQTT is off, which the
    #: log and the service root's serverSettings say; changes still reach browsers through
    #: `/api/live/observations`. See docs/live.md.
    mqtt_url: str = field(default="", repr=False)
    #: The broker address clients are told in the service root; empty: `mqtt_url` without credentials.
    mqtt_public_url: str = ""
    #: The API token whose principal creates the Observations published to the creation topics
    #: (the broker cannot tell the server who published). Empty: the server subscribes to no creation
    #: topic, unless `allow_anonymous_writes` lets anonymous clients write. Never logged.
    mqtt_write_token: str = field(default="", repr=False)
    #: Whether the broker enforces topic ACLs (who may subscribe to what). False: only entities of
    #: open datasets are published, since anyone may subscribe to a plain broker; True: entities of
    #: restricted datasets are published too, each under its dataset's root
    #: (`datasets/<id>/v1.1/…`), which the broker's ACLs keep from those who may not read it (the
    #: SensorThings topics carry open data only either way). See docs/deployment.md.
    mqtt_broker_acl: bool = False
    #: The control client of Mosquitto's dynamic security plugin, `ws://user:password@host:port/path`
    #: (or `mqtt://…`): the platform writes there the broker's roles, one per access level, group
    #: and organisation, and a client for every API token as it is issued, and deletes it when the
    #: token is revoked (`urbantwin mqtt sync` writes everything afresh). Empty: the broker's
    #: accounts are not managed. Never logged.
    mqtt_dynsec_url: str = field(default="", repr=False)
    #: Prefix of the server's MQTT client ids, `<prefix>-<slot>` with one slot per server process:
    #: stable across restarts, so the broker keeps what it holds unacknowledged for a process that died.
    mqtt_client_id: str = "urbantwin"
    #: Put before every topic (`city/` gives `city/v1.1/Observations`), for several platforms on one
    #: broker. Empty: the standard's topics.
    mqtt_topic_prefix: str = ""
    #: `$select` topics that are published besides the full entities, separated by spaces:
    #: `Observations?$select=result,phenomenonTime` publishes those two properties of every new or
    #: changed Observation to `v1.1/Observations?$select=…`, to each of its navigation sets' topics and,
    #: on updates, to `v1.1/Observations(id)?$select=…`. Empty (the default): none. A plain broker
    #: cannot tell the server who subscribes to what, so every form is one more message per change
    #: whether or not anyone listens (on Observations about 15 % of the MQTT ingest rate): configure
    #: the forms the city's dashboards use.
    mqtt_select_topics: str = ""
    #: Seconds the server keeps an idle HTTP connection open for the client's next request. Longer
    #: than any proxy in front keeps its idle connections to the server (nginx: 60 s, as
    #: deploy/nginx sets it): a server closing first races the proxy's next request on that
    #: connection, which then fails (a 502 for a POST, which nginx does not retry).
    http_keepalive_seconds: int = 75
    #: Seconds between keep-alive comments on an idle Server-Sent Events stream (proxies close idle
    #: connections; the comment also tells the server that a client has gone).
    live_keepalive_seconds: int = 15
    #: Rate limit of a client without a token, per client address (behind a trusted proxy, the
    #: address it forwards): requests per second on average, and how many may come at once on top (a
    #: map viewer asks for a screenful of tiles in one go). Over it: 429 with `Retry-After`. 0: off.
    #: Counted in each server process: with `--workers N` a client may make up to N times as many.
    rate_limit_per_second: int = 30
    #: How many requests a client without a token may make at once on top of its rate (see above).
    rate_limit_burst: int = 300
    #: Rate limit of a client with a token (`Authorization`), per token: ingest clients and partners
    #: write in bulk. Refused credentials (401) count against their address's budget of a client
    #: without a token, so inventing tokens or guessing passwords buys nothing. 0: no limit per token.
    rate_limit_token_per_second: int = 500
    #: How many requests a client with a token may make at once on top of its rate (see above).
    rate_limit_token_burst: int = 5000
    #: How many clients' rate limits are remembered; beyond it the longest idle is forgotten (about
    #: 200 bytes each), so a flood of distinct addresses cannot grow the server's memory.
    rate_limit_clients: int = 100_000
    #: Who may show the platform's pages in a frame (the Content-Security-Policy's `frame-ancestors`),
    #: separated by commas: `'self'` (the default), `'none'`, or origins such as `https://city.example`.
    frame_ancestors: tuple[str, ...] = ("'self'",)
    #: Origins besides this server the viewer may load from (a base map's tiles, glyphs and sprites),
    #: separated by commas; the origin of `viewer_style_url` is allowed without being named here.
    viewer_sources: tuple[str, ...] = ()
    #: Memory the vector tile cache may hold per server process, in MB (the encoded tiles, least
    #: recently used dropped first). Dense low-zoom building tiles are up to half a MB each. 0: none.
    tile_cache_mb: int = 64
    #: SQL statements SQLAlchemy keeps compiled per engine (its `query_cache_size`).
    sql_cache_size: int = 500
    #: SQLite's page cache per pooled connection, in KB (`PRAGMA cache_size`; SQLite's own default), for
    #: up to 15 pooled connections per process.
    sqlite_cache_kb: int = 2000
    #: Parsed geometries kept for SQLite's spatial functions (one cache per process), in entries.
    geometry_cache_size: int = 4096
    #: The most malloc arenas the C library (glibc) may keep for the server process; each thread of
    #: the request pool otherwise gets its own and keeps its peak after a burst of large answers
    #: (bench/README.md). 0: the C library's default (8 per core). `MALLOC_ARENA_MAX` wins if set.
    malloc_arenas: int = 2
    #: The folder of energy scenario files the API (`/api/energy/scenarios`) and `urbantwin energy`
    #: offer by name, with an optional `quarter.toml` naming the quarter its meters are known by
    #: (docs/energy.md). Empty (the default): the generic scenarios bundled with the package, which
    #: simulate every building of the city. `urbantwin demo` sets the demo's quarter.
    energy_scenarios: str = ""
    #: Where scenario runs submitted through the API are computed: `server` (each server process
    #: starts a worker thread when a run is queued) or `separate` (only `urbantwin energy worker`
    #: processes run them, e.g. the `urbantwin-worker` unit of deploy/, so the API hosts never spend
    #: CPU on simulations).
    scenario_worker: str = "server"
    #: The Dask scheduler energy sweeps (`POST /api/energy/sweeps`) fan their runs out to
    #: (`tcp://host:8786`); empty: a local cluster of worker processes on this host, started with
    #: the first sweep. The scheduler's workers need the platform installed and the store reachable
    #: at `database_url` (so a remote cluster needs PostgreSQL: an SQLite file is local).
    dask_scheduler: str = ""
    #: Worker processes of the local Dask cluster (0: one per CPU core).
    dask_workers: int = 0
    #: Which feature collections the district profiles (`/api/districts/`) count as what, found by
    #: their keywords: entries `kind=keyword keyword !keyword` (a collection counts when it has every
    #: keyword and none of those marked `!`, case-insensitive). Kinds: `buildings` (footprints, their
    #: floor area and where residents live), `trees`, `charging` (EV charging points), `wlan` (WLAN
    #: sites) and `stops` (public-transport stops besides the stops of imported GTFS feeds, which
    #: count always). A city names its collections' keywords, never the code its collections' names.
    district_layers: tuple[str, ...] = (
        "buildings=buildings !3D",
        "trees=trees",
        "charging=charging",
        "wlan=WLAN",
        "stops=stops",
    )
    #: The keywords a feature collection of the city's blocks must have (Baublöcke, statistical
    #: blocks; `!keyword`: must not have) for the land-use figures per block. Without such a
    #: collection, blocks are the cells of a square grid of `land_use_grid_m` (docs/districts.md).
    land_use_blocks: tuple[str, ...] = ("blocks", "!3D")
    #: The side (m) of the grid cells that stand in for blocks where the city has no block collection.
    land_use_grid_m: int = 100
    #: The ObservedProperties (names) whose sensor means each district profile shows, unless a
    #: request names its own (the names the air-quality connectors give them).
    district_observed_properties: tuple[str, ...] = (
        "Nitrogen dioxide (NO2)",
        "Particulate matter < 10 µm (PM10)",
        "Particulate matter < 2.5 µm (PM2.5)",
    )
    #: The shared secret LoRaWAN network servers send to `/api/infrastructure/lorawan/uplinks/…`
    #: (`Authorization: Bearer <token>`, a header set in The Things Stack's webhook or ChirpStack's
    #: HTTP integration). Empty (the default): the endpoint is off and answers 403.
    lorawan_webhook_token: str = field(default="", repr=False)
    #: Ideas, map contributions and comments one client address may submit per hour (participation):
    #: the sustained rate, with `participation_submission_burst` at once on top. Over it: 429. 0: off.
    participation_submissions_per_hour: int = 20
    #: How many submissions a client address may make at once on top of its hourly rate (see above).
    participation_submission_burst: int = 5
    #: The secret that salts the hash by which a support vote's voter is counted once (an address is
    #: never stored). Empty (the default): a random one per server start, so a voter is then counted
    #: once per procedure until the server restarts; set it to count them once for good.
    participation_vote_secret: str = field(default="", repr=False)
    #: Extra fields not known to this version (kept so a newer config file still loads).
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.scenario_worker not in SCENARIO_WORKERS:
            expected = " or ".join(SCENARIO_WORKERS)
            raise ValueError(f"setting scenario_worker: expected {expected}, got {self.scenario_worker!r}")
        if self.http_keepalive_seconds < 1:
            raise ValueError(
                f"setting http_keepalive_seconds: expected at least 1, got {self.http_keepalive_seconds}"
            )

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given settings replaced; `None` values leave a setting alone."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def secret_values(self) -> list[str]:
        """The values of the secret settings (tokens, URLs with credentials) and the passwords in
        the store's and the broker's URLs: what no log line may contain."""
        from urllib.parse import urlsplit

        values = [getattr(self, f.name) for f in fields(self) if not f.repr and f.name != "extra"]
        for url in (self.database_url, self.mqtt_url, self.mqtt_dynsec_url, *self.database_replica_urls):
            try:
                password = urlsplit(url).password
            except ValueError:
                password = None
            if password:
                values.append(password)
        return [value for value in values if isinstance(value, str) and value]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


_ENV_PREFIX = "URBANTWIN_"


def _coerce(name: str, raw: Any, default: Any) -> Any:
    """Turn a string from the environment (or a TOML value) into the type of the default."""
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError(f"setting {name}: expected true or false, got {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ValueError(f"setting {name}: expected an integer, got {raw!r}") from None
    if isinstance(default, tuple):
        if isinstance(raw, list | tuple):
            return tuple(str(x) for x in raw)
        return tuple(part.strip() for part in str(raw).split(",") if part.strip())
    return str(raw)


def load_settings(config_file: str | Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Settings from defaults, then the TOML file, then `URBANTWIN_*` variables."""
    env = os.environ if environ is None else environ
    defaults = Settings()
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    known = {f.name: getattr(defaults, f.name) for f in fields(Settings) if f.name != "extra"}
    path = config_file or env.get(_ENV_PREFIX + "CONFIG")
    if path:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        for key, raw in data.items():
            if key in known:
                values[key] = _coerce(key, raw, known[key])
            else:
                extra[key] = raw
    for key, default in known.items():
        raw = env.get(_ENV_PREFIX + key.upper())
        if raw is not None:
            values[key] = _coerce(_ENV_PREFIX + key.upper(), raw, default)
    return replace(defaults, extra=extra, **values)


@dataclass(frozen=True)
class SettingDoc:
    """One setting as the reference shows it: its variable, default and meaning."""

    name: str
    variable: str
    type: str
    default: str
    description: str
    #: Whether its value is a secret (a token, a password in a URL): never logged, not shown.
    secret: bool


def _descriptions() -> dict[str, str]:
    """The `#:` comments above each field of `Settings`, read from this file's source (the
    convention of Sphinx's autodoc), so a setting is described once, where it is declared."""
    import inspect
    import re

    described: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(Settings).splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        declared = re.match(r"(\w+)\s*:", stripped)
        if declared and pending:
            described[declared.group(1)] = " ".join(pending)
        pending = []
    return described


def _shown(value: Any) -> str:
    """A default as it is written in the environment (tuples separated by commas)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def setting_docs() -> list[SettingDoc]:
    """Every setting of `Settings`, in the order of its declaration."""
    described = _descriptions()
    defaults = Settings()
    docs = []
    for item in fields(Settings):
        if item.name == "extra":
            continue
        default = getattr(defaults, item.name)
        docs.append(
            SettingDoc(
                name=item.name,
                variable=_ENV_PREFIX + item.name.upper(),
                type=type(default).__name__ if not isinstance(default, tuple) else "list",
                default=_shown(default),
                description=described.get(item.name, ""),
                secret=not item.repr,
            )
        )
    return docs


def reference_markdown(owners: dict[str, str]) -> str:
    """docs/settings.md: every setting with its variable, default and meaning, the platform's own
    first and then each module's (`owners`: the module that declares a setting, by its name)."""
    docs = setting_docs()
    groups: dict[str, list[SettingDoc]] = {"platform": []}
    for doc in docs:
        groups.setdefault(owners.get(doc.name, "platform"), []).append(doc)
    lines = [
        "# Settings",
        "",
        "<!-- Generated by `urbantwin settings reference --output docs/settings.md` from the",
        "     declarations in src/urbantwin/settings.py; edit those, not this file. -->",
        "",
        "Every setting is an environment variable `URBANTWIN_<NAME>` or a key `<name>` of the TOML",
        "file named by `URBANTWIN_CONFIG` (or `--config`); the environment wins over the file.",
        "Lists are separated by commas in the environment and are arrays in the file. A setting",
        "marked *secret* is never logged.",
        "",
    ]
    for group, members in groups.items():
        if not members:
            continue
        title = "The platform" if group == "platform" else f"Module `{group}`"
        lines += [f"## {title}", ""]
        for doc in members:
            default = f"`{doc.default}`" if doc.default else "empty"
            secret = ", *secret*" if doc.secret else ""
            lines += [
                f"### `{doc.variable}`",
                "",
                f"{doc.type}, default {default}{secret}. {doc.description}",
                "",
            ]
    return "\n".join(lines).rstrip("\n") + "\n"
