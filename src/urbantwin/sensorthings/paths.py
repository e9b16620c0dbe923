"""Resource paths of the SensorThings API into a navigation chain.

`Things(1)/Datastreams(2)/Observations`, `Datastreams(5)/Thing/name/$value`, `Things(1)/Locations/$ref`:
a chain of steps (entity type, optional id, the relation it was reached by) and what is asked of the
last one (the entity or collection, one property, its raw `$value`, or `$ref` links).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from urbantwin.errors import BadRequest, NotFound
from urbantwin.sensorthings.model import BY_SET_NAME, ENTITY_TYPES, EntityType, Relation

_SEGMENT = re.compile(r"^(?P<name>[A-Za-z]+)(?:\((?P<key>[^()]*)\))?$")
MAX_ID = 2**63 - 1
#: Most entities a path may navigate through. Real paths take two or three hops
#: (`Things(1)/Datastreams(2)/Observations`); each hop nests one more subquery, whose compilation
#: grows faster than linearly, so 60 hops kept a server thread busy for many seconds.
MAX_STEPS = 10


@dataclass(frozen=True)
class Step:
    entity: EntityType
    id: int | None = None
    via: Relation | None = None

    @property
    def is_collection(self) -> bool:
        return self.id is None and (self.via is None or self.via.many)

    @property
    def text(self) -> str:
        """The step as written in a URL: `Datastreams(2)`, `Thing`."""
        name = self.via.name if self.via is not None else self.entity.set_name
        return f"{name}({self.id})" if self.id is not None else name


def steps_text(steps: tuple[Step, ...]) -> str:
    """A chain of steps as a URL path, for messages and links."""
    return "/".join(step.text for step in steps)


@dataclass(frozen=True)
class ResourcePath:
    steps: tuple[Step, ...]
    property_name: str | None = None
    property_keys: tuple[str, ...] = ()
    value: bool = False
    ref: bool = False

    @property
    def target(self) -> Step:
        return self.steps[-1]

    @property
    def is_collection(self) -> bool:
        return self.property_name is None and self.target.is_collection


def parse_id(text: str, where: str) -> int:
    """An entity id from a URL or a body: a non-negative 64-bit integer."""
    key = text.strip()
    if key.startswith("'") and key.endswith("'") and len(key) >= 2:
        key = key[1:-1]
    if not key.isdigit() or not key.isascii():
        raise NotFound(f"{where}: no entity with id {text!r} (ids are integers)")
    number = int(key)
    if number > MAX_ID:
        raise NotFound(f"{where}: no entity with id {text}")
    return number


def parse_path(path: str) -> ResourcePath:
    """Parse the part of the URL after `/v1.1/`."""
    parts = [p for p in path.strip("/").split("/")]
    if not parts or parts == [""]:
        raise BadRequest("empty resource path")
    steps: list[Step] = []
    index = 0
    first = _SEGMENT.match(parts[0])
    if first is None or first.group("name") not in BY_SET_NAME:
        raise NotFound(f"unknown resource {parts[0]!r}; the entity sets are {', '.join(sorted(BY_SET_NAME))}")
    entity = BY_SET_NAME[first.group("name")]
    key = first.group("key")
    steps.append(Step(entity, parse_id(key, entity.set_name) if key is not None else None))
    index = 1
    prop: str | None = None
    keys: tuple[str, ...] = ()
    value = ref = False
    while index < len(parts):
        part = parts[index]
        current = steps[-1]
        if part == "$ref":
            if index != len(parts) - 1:
                raise BadRequest("$ref must be the last segment of the path")
            if current.id is not None and current.via is None and len(steps) == 1:
                raise BadRequest(
                    "$ref addresses the related entities of an entity, e.g. Things(1)/Locations/$ref"
                )
            ref = True
            break
        if current.is_collection and current.id is None:
            raise BadRequest(
                f"{part!r} cannot follow the collection {current.entity.set_name}: address one entity "
                f"first, e.g. {current.entity.set_name}(1)/{part}"
            )
        match = _SEGMENT.match(part)
        name = match.group("name") if match else part
        relation = current.entity.relations.get(name) if match else None
        if relation is not None:
            key = match.group("key") if match else None
            if key is not None and not relation.many:
                raise BadRequest(f"{name} is a single entity; it takes no id")
            target = ENTITY_TYPES[relation.target]
            step_id = parse_id(key, target.set_name) if key is not None else None
            steps.append(Step(target, step_id, relation))
            if len(steps) > MAX_STEPS:
                raise BadRequest(f"the path navigates through more than {MAX_STEPS} entities")
            index += 1
            continue
        if current.entity.property(part) is None:
            raise NotFound(f"{current.entity.name} has no property or relation {part!r}")
        prop = "id" if part in ("id", "@iot.id") else part
        rest = parts[index + 1 :]
        if rest and rest[-1] == "$value":
            value = True
            rest = rest[:-1]
        if rest:
            if current.entity.property(prop).kind not in ("json",):  # type: ignore[union-attr]
                raise NotFound(f"{current.entity.name}/{prop} has no sub-property {'/'.join(rest)!r}")
            keys = tuple(rest)
        break
    return ResourcePath(tuple(steps), prop, keys, value, ref)
