"""Tables of connected twins (`urbantwin.federation`): other cities' endpoints and what was taken
from them.

`remotes` is the registry of partner endpoints (a SensorThings API, an OGC API, a DCAT catalogue)
with the attribution and licence their data carries here, and their health and last sync. A
SensorThings partner may be followed live (`follow`): one server process at a time holds its lease
(`follower`, until `follower_until`, renewed while it follows) and stores the Observations its
broker publishes on the mirrored Datastreams' topics. `remote_mirrors` holds, per mirrored remote
Datastream, the local Datastream it fills and the cursor of the mirror: the (time, id) of the last
remote Observation stored. The cursor is written in the transaction that stores the Observations it
describes, so a mirror killed at any moment resumes where its last commit left it, with nothing lost
and nothing stored twice. `harvested_records` are the datasets of a partner's DCAT catalogue,
pointing back to their IRI there.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from urbantwin.store.schema import metadata
from urbantwin.store.types import Id, Json, UtcTime

#: One row per partner endpoint: `name` is the short name an operator uses (`hamburg-sta`).
remotes = Table(
    "remotes",
    metadata,
    Column("name", Text, primary_key=True),
    Column("url", Text, nullable=False),
    #: sensorthings | ogcapi | dcat
    Column("kind", Text, nullable=False),
    Column("title", Text, nullable=False),
    #: Who the data is from, as it must be credited wherever it is shown.
    Column("attribution", Text, nullable=False),
    #: The licence of the data (a URI or an SPDX / DL-DE name).
    Column("licence", Text, nullable=False),
    #: The local dataset mirrored entities join (its access rule decides who sees them).
    Column("dataset_id", Text, nullable=False),
    #: At most this many requests a second to the remote.
    Column("requests_per_second", Double, nullable=False),
    Column("created", UtcTime, nullable=False),
    #: ok | failing | unknown (never reached yet)
    Column("health", Text, nullable=False),
    Column("last_checked", UtcTime),
    Column("last_sync", UtcTime),
    #: The last failure, as a sentence (None once a sync succeeds).
    Column("last_error", Text),
    #: Whether its mirrored Datastreams are followed over MQTT as the partner publishes them.
    Column("follow", Boolean, nullable=False, server_default=false()),
    #: The partner's broker (`mqtt://host:port`, `mqtts://…`); None: the one its service root names.
    Column("mqtt_url", Text),
    #: The server process following it (its lease), and until when the lease holds unless renewed.
    Column("follower", Text),
    Column("follower_until", UtcTime),
)

#: Per mirrored remote Datastream: the local Datastream and the cursor of the mirror.
remote_mirrors = Table(
    "remote_mirrors",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("remote", Text, ForeignKey("remotes.name", ondelete="CASCADE"), nullable=False),
    #: The remote's id of the Datastream (text: some servers use string ids) and its selfLink.
    Column("remote_id", Text, nullable=False),
    Column("remote_link", Text, nullable=False),
    Column("datastream_id", Id, ForeignKey("datastreams.id", ondelete="CASCADE"), nullable=False),
    #: phenomenonTime | resultTime: which time the mirror advances by.
    Column("cursor_field", Text, nullable=False),
    #: The last remote Observation stored: its time (start) and remote id (None: none yet).
    Column("cursor_time", UtcTime),
    Column("cursor_id", Text),
    Column("observations", BigInteger, nullable=False),
    Column("updated", UtcTime, nullable=False),
    UniqueConstraint("remote", "remote_id"),
)

#: The datasets of a partner's DCAT catalogue, as harvested (the record points back by `iri`).
harvested_records = Table(
    "harvested_records",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("remote", Text, ForeignKey("remotes.name", ondelete="CASCADE"), nullable=False),
    Column("iri", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    #: Keywords, themes (IRIs), landing page, distributions' access URLs, publisher, licence.
    Column("details", Json, nullable=False),
    #: dct:modified as the partner gives it (text, compared to skip unchanged records).
    Column("modified", Text),
    Column("harvested", UtcTime, nullable=False),
    UniqueConstraint("remote", "iri"),
    Index("ix_harvested_records_remote", "remote"),
)
