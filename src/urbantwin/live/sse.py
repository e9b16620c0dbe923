"""New Observations pushed to browsers: `GET /api/live/observations` as Server-Sent Events.

Each event is one JSON Observation with its Datastream's id, `id:` its `@iot.id`, so a browser's
`EventSource` that reconnects sends `Last-Event-ID` and gets what it missed (up to `REPLAY_LIMIT`
Observations with a larger id, in id order). Filters: `datastream=1,2`, `thing=3`, `bbox=minLon,minLat,
maxLon,maxLat` (of the Observation's FeatureOfInterest or of its Thing's Location); within one filter
any id matches, across filters all must. A client is only sent what the policy lets its principal read
(asked again every `SCOPE_REFRESH_SECONDS`, so a revoked membership takes effect on open streams).
An idle stream carries a comment every `URBANTWIN_LIVE_KEEPALIVE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from functools import cache
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from starlette.responses import StreamingResponse

from urbantwin.access.http import request_access, request_caller
from urbantwin.access.policy import DatasetScope
from urbantwin.errors import BadRequest
from urbantwin.http import public_base
from urbantwin.live.changes import CREATE, ChangeSet
from urbantwin.live.events import BBox, EntityEvent, intersects, read_events
from urbantwin.live.notify import Context, Geometries
from urbantwin.sensorthings.model import OBSERVATION
from urbantwin.sensorthings.service import VERSION
from urbantwin.store import schema

#: Observations sent again at most on a reconnect with `Last-Event-ID`.
REPLAY_LIMIT = 10_000
#: Events held for a slow client; beyond, its stream ends and its browser reconnects (and replays).
QUEUE_LIMIT = 10_000
SCOPE_REFRESH_SECONDS = 60.0

_DESCRIPTION = """New Observations as [Server-Sent Events](https://html.spec.whatwg.org/multipage/server-sent-events.html)
(`text/event-stream`), the moment they are committed, through whichever server process stored them.

Each event: `id: <Observation @iot.id>`, `event: observation`, `data:` the JSON Observation as
`/v1.1/Observations(id)` answers it, plus `"Datastream": {"@iot.id": …}`. A comment line (`: keep-alive`)
is sent on an idle stream. A reconnecting `EventSource` sends `Last-Event-ID` and first receives the
Observations stored after that one (at most 10,000). Only Observations of datasets the caller may read
are sent (anonymous callers: open data).

```js
const source = new EventSource("/api/live/observations?datastream=1,2");
source.addEventListener("observation", (e) => console.log(JSON.parse(e.data)));
```
"""


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"


class Subscription:
    """One client's stream: its filters, its scope, and the queue the hub fills from its thread."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        datastreams: frozenset[int],
        things: frozenset[int],
        bbox: BBox | None,
        scope: DatasetScope,
        base: str,
    ) -> None:
        self.loop = loop
        #: The body this client is sent (`format_event`): written by the database for big batches,
        #: so the hub need not read the Observations' columns for this client.
        self.renderings = [(base, None)]
        self.reads_rows = False
        self.datastreams = datastreams
        self.things = things
        self.bbox = bbox
        self.scope = scope
        self.queue: asyncio.Queue[EntityEvent | None] = asyncio.Queue(QUEUE_LIMIT)
        self.overflowed = False
        self.ended = False

    def end(self) -> None:
        """The server stops (any thread): the stream ends now, not at the next event."""
        self.ended = True
        self.loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)

    def matches(self, event: EntityEvent, context: Context) -> bool:
        if event.entity is not OBSERVATION or event.kind != CREATE:
            return False
        if self.datastreams and event.datastream_id not in self.datastreams:
            return False
        if self.things and event.thing_id not in self.things:
            return False
        if not self.scope.allows(event.dataset_id):
            return False
        if self.bbox is not None:
            return intersects(context.feature_bbox(event.feature_id), self.bbox) or intersects(
                context.thing_bbox(event.thing_id), self.bbox
            )
        return True

    def deliver(self, events: list[EntityEvent], _local: bool, context: Context) -> None:
        """The hub's thread: pass on what this client wants, to the client's event loop."""
        matching = [e for e in events if self.matches(e, context)]
        if matching:
            self.loop.call_soon_threadsafe(self._put, matching)

    def _put(self, events: list[EntityEvent]) -> None:
        for event in events:
            try:
                self.queue.put_nowait(event)
            except asyncio.QueueFull:
                self.overflowed = True
                return


def format_event(event: EntityEvent, base: str) -> bytes:
    """The Observation as the SensorThings API writes it, with its Datastream's id added last."""
    body = event.body(base)
    datastream = b',"Datastream":{"@iot.id":%d}}' % (event.datastream_id or 0)
    return b"id: %d\nevent: observation\ndata: %s%s\n\n" % (event.id, body[:-1], datastream)


def _ids(raw: str | None, name: str) -> frozenset[int]:
    if raw is None or not raw.strip():
        return frozenset()
    try:
        ids = frozenset(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise BadRequest(f"{name} must be a comma-separated list of ids, e.g. {name}=1,2") from None
    if any(i < 0 for i in ids):
        raise BadRequest(f"{name}: ids are not negative")
    return ids


def _bbox(raw: str | None) -> BBox | None:
    if raw is None or not raw.strip():
        return None
    try:
        values = [float(part) for part in raw.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or values[0] > values[2] or values[1] > values[3]:
        raise BadRequest("bbox must be minLon,minLat,maxLon,maxLat (WGS84), e.g. bbox=12.3,51.3,12.4,51.4")
    return (values[0], values[1], values[2], values[3])


def _last_event_id(raw: str | None) -> int | None:
    if raw is None or not raw.strip():
        return None
    if not raw.strip().isdigit():
        raise BadRequest("Last-Event-ID must be the id of an Observation")
    return int(raw.strip())


def _replay(request: Request, subscription: Subscription, after: int) -> list[EntityEvent]:
    """The Observations after `after` that the subscription wants, oldest first."""
    obs, ds = schema.observations, schema.datastreams
    query = select(obs.c.id).join(ds, ds.c.id == obs.c.datastream_id).where(obs.c.id > after)
    condition = subscription.scope.allows_column(ds.c.dataset_id)
    if condition is not None:
        query = query.where(condition)
    if subscription.datastreams:
        query = query.where(obs.c.datastream_id.in_(sorted(subscription.datastreams)))
    if subscription.things:
        query = query.where(ds.c.thing_id.in_(sorted(subscription.things)))
    with request.app.state.engine.connect() as connection:
        ids = list(connection.execute(query.order_by(obs.c.id).limit(REPLAY_LIMIT)).scalars())
        if not ids:
            return []
        events = read_events(connection, ChangeSet(created={OBSERVATION.name: set(ids)}))
        context = Context(connection, Geometries())
        return [e for e in events if subscription.matches(e, context)]


@cache
def live_router() -> APIRouter:
    """The route, built once per process and shared by every app: it finds the app's live updates
    through the request."""
    router = APIRouter(prefix="/api/live", tags=["Live data"])

    @router.get(
        "/observations",
        summary="New Observations as Server-Sent Events",
        description=_DESCRIPTION,
        response_class=EventStreamResponse,
        responses={
            200: {
                "description": "an endless stream of events",
                "content": {
                    "text/event-stream": {
                        "schema": {"type": "string"},
                        "example": 'id: 42\nevent: observation\ndata: {"@iot.id":42,"result":21.5,'
                        '"phenomenonTime":"2024-05-01T12:00:00Z","Datastream":{"@iot.id":1}}\n\n',
                    }
                },
            },
            400: {"description": "a filter or Last-Event-ID is malformed"},
        },
    )
    async def observations(
        request: Request,
        datastream: Annotated[str | None, Query(description="Datastream ids, comma-separated")] = None,
        thing: Annotated[str | None, Query(description="Thing ids, comma-separated")] = None,
        bbox: Annotated[
            str | None,
            Query(description="minLon,minLat,maxLon,maxLat of the FeatureOfInterest or the Thing's Location"),
        ] = None,
        last_event_id: Annotated[
            str | None, Header(alias="Last-Event-ID", description="resume after this Observation id")
        ] = None,
    ) -> EventStreamResponse:
        datastreams, things, box = _ids(datastream, "datastream"), _ids(thing, "thing"), _bbox(bbox)
        after = _last_event_id(last_event_id)
        caller = request_caller(request)
        access = request_access(request)
        live = request.app.state.live
        settings = request.app.state.settings
        base = public_base(request, settings) + f"/{VERSION}"
        scope = await run_in_threadpool(access.scope, caller)
        subscription = Subscription(asyncio.get_running_loop(), datastreams, things, box, scope, base)
        if live.closing.is_set():
            subscription.ended = True
        # Subscribed before the replay is read, so nothing committed in between is missed.
        live.hub.add_sink(subscription)
        try:
            replayed = (
                await run_in_threadpool(_replay, request, subscription, after) if after is not None else []
            )
        except BaseException:
            live.hub.remove_sink(subscription)
            raise
        keepalive = max(1, settings.live_keepalive_seconds)

        async def stream() -> AsyncIterator[bytes]:
            try:
                yield b"retry: 2000\n: connected\n\n"
                sent = {event.id for event in replayed}
                for event in replayed:
                    yield format_event(event, base)
                refreshed = time.monotonic()
                while True:
                    if time.monotonic() - refreshed > SCOPE_REFRESH_SECONDS:
                        subscription.scope = await run_in_threadpool(access.refresh, caller)
                        refreshed = time.monotonic()
                    try:
                        pushed = await asyncio.wait_for(subscription.queue.get(), keepalive)
                    except TimeoutError:
                        if await request.is_disconnected():
                            return
                        yield b": keep-alive\n\n"
                        continue
                    if pushed is None or subscription.ended:
                        return  # the server stops; the browser reconnects (to another process) and resumes
                    if pushed.id in sent or not subscription.scope.allows(pushed.dataset_id):
                        continue  # sent by the replay already, or no longer readable
                    yield format_event(pushed, base)
                    if subscription.overflowed and subscription.queue.empty():
                        # The client fell too far behind: it reconnects and replays from its last id.
                        yield b": too far behind, reconnect\n\n"
                        return
            finally:
                live.hub.remove_sink(subscription)

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return EventStreamResponse(stream(), headers=headers)

    return router
