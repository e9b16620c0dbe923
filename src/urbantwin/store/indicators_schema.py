"""Tables of the goals and indicators module (`urbantwin.indicators`, docs/indicators.md).

`indicators` holds the registry: one row per indicator, its definition, unit, ISO 37120/37122 code,
how it is obtained (computed from the platform's data, or entered by hand), its targets and the
documents that set them, as one JSON document (the city's configuration, loaded from a TOML file;
its shape is checked by `indicators/registry.py`). `indicator_values` is the time series: one value
per indicator and year, computed or entered, with who or what recorded it and when.

Why a table of the platform's own and not SensorThings Datastreams: an indicator's value belongs to
a year (a period, not an instant a sensor measured at), it is replaced when its data changes rather
than appended as a new observation, and a hand-entered value carries who entered it and the
document it comes from; a Datastream would need a Thing, a Sensor and an ObservedProperty invented
for each, and readers of the goals page would still have to know which Datastream is which target.
"""

from __future__ import annotations

from sqlalchemy import Column, Double, ForeignKey, Integer, Table, Text

from urbantwin.store.schema import metadata
from urbantwin.store.types import Json, UtcTime

#: The registry: the indicator's document (see `indicators/registry.py`), the dataset whose access
#: rules decide who reads it and who enters its values, and the state of the data it was last
#: computed from (`stamp`, None: never computed or entered by hand).
indicators = Table(
    "indicators",
    metadata,
    Column("id", Text, primary_key=True),
    Column("dataset_id", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("document", Json, nullable=False),
    Column("stamp", Text),
    #: What the last computation said of gaps in its data (texts in de and en), or of its failure.
    Column("notes", Json),
    Column("computed", UtcTime),
    Column("updated", UtcTime, nullable=False),
)

#: The time series: one value per indicator and year (`origin`: computed or entered).
indicator_values = Table(
    "indicator_values",
    metadata,
    Column("indicator_id", Text, ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("value", Double, nullable=False),
    Column("origin", Text, nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("note", Text),
    Column("recorded", UtcTime, nullable=False),
)
