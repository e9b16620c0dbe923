"""The MQTT topics of the SensorThings MQTT extension: where each change is published, and which
topics create Observations.

A plain broker cannot tell a publisher which topics have subscribers, so the server publishes, for
every entity created or updated, what the standard's common subscriptions need:

- the entity set, `v1.1/Observations`, on create and update;
- each navigation set the entity is in through a related parent, `v1.1/Datastreams(1)/Observations`,
  `v1.1/FeaturesOfInterest(7)/Observations`, `v1.1/Things(1)/Locations`, on create and update;
- the entity, `v1.1/Things(1)`, and each of its properties, `v1.1/Things(1)/name` (as `{"name": …}`),
  on update (a new entity has no subscribers yet: its id was unknown);
- the configured `$select` forms of those collection topics and entity topics
  (`URBANTWIN_MQTT_SELECT_TOPICS`, e.g. `v1.1/Observations?$select=result,phenomenonTime`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from urbantwin.live.changes import CREATE
from urbantwin.live.events import EntityEvent
from urbantwin.sensorthings.model import BY_SET_NAME, OBSERVATION
from urbantwin.sensorthings.service import VERSION

#: What a topic carries: the whole entity (None), a selection of properties, or one property.
Payload = tuple[str, ...] | None

_CREATION = re.compile(r"^(?:(?P<parent>[A-Za-z]+)\((?P<id>\d+)\)/)?Observations$")


@dataclass(frozen=True)
class Topic:
    name: str
    #: None: the entity; a tuple: the `$select`ed properties.
    select: Payload = None
    #: A single property (`v1.1/Things(1)/name`), published as `{name: value}`.
    property: str | None = None


def parse_selects(configured: str) -> dict[str, list[tuple[str, ...]]]:
    """`Observations?$select=result,phenomenonTime …` into {"Observations": [("result", "phenomenonTime")]}.

    Raises ValueError naming the entry that is not an entity set with known properties.
    """
    out: dict[str, list[tuple[str, ...]]] = {}
    for entry in configured.replace(";", " ").split():
        set_name, _, query = entry.partition("?")
        key, _, names = query.partition("=")
        entity = BY_SET_NAME.get(set_name)
        if entity is None or key != "$select" or not names:
            raise ValueError(
                f"URBANTWIN_MQTT_SELECT_TOPICS: {entry!r} is not like Observations?$select=result"
            )
        selected = tuple(n for n in names.split(",") if n)
        unknown = [n for n in selected if n not in entity.properties and n not in ("id", "@iot.id")]
        if unknown:
            raise ValueError(f"URBANTWIN_MQTT_SELECT_TOPICS: {entity.name} has no {', '.join(unknown)}")
        out.setdefault(set_name, []).append(selected)
    return out


def topics_of(event: EntityEvent, prefix: str, selects: dict[str, list[tuple[str, ...]]]) -> Iterator[Topic]:
    """The topics `event` is published to (see the module docstring)."""
    root = f"{prefix}{VERSION}/"
    set_name = event.entity.set_name
    chosen = selects.get(set_name, ())
    collections = [root + set_name] + [f"{root}{parent}({pid})/{rel}" for parent, pid, rel in event.parents]
    for name in collections:
        yield Topic(name)
        for selected in chosen:
            yield Topic(f"{name}?$select={','.join(selected)}", selected)
    if event.kind == CREATE:
        return
    single = f"{root}{set_name}({event.id})"
    yield Topic(single)
    for selected in chosen:
        yield Topic(f"{single}?$select={','.join(selected)}", selected)
    for prop in event.entity.properties:
        yield Topic(f"{single}/{prop}", property=prop)


@lru_cache(maxsize=4096)  # sensors publish to the same few topics again and again
def creation_path(topic: str, prefix: str) -> str | None:
    """The resource path that a message on `topic` creates an Observation in, or None when the topic
    is no creation topic (`v1.1/Observations`, `v1.1/Datastreams(1)/Observations`,
    `v1.1/FeaturesOfInterest(1)/Observations`)."""
    root = f"{prefix}{VERSION}/"
    if not topic.startswith(root):
        return None
    path = topic[len(root) :]
    match = _CREATION.match(path)
    if match is None:
        return None
    parent = match.group("parent")
    if parent is not None and parent not in ("Datastreams", "FeaturesOfInterest"):
        return None
    return path


def creation_filters(prefix: str) -> list[str]:
    """The subscriptions that receive every creation topic."""
    root = f"{prefix}{VERSION}/"
    return [root + OBSERVATION.set_name, f"{root}+/{OBSERVATION.set_name}"]
