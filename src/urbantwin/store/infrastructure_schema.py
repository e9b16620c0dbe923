"""Tables of the digital infrastructure module (`urbantwin.infrastructure`).

Sites themselves are features of OGC API collections (one collection, and so one catalogue dataset
with its access rules, per operator's registry); `infrastructure_registries` says which collections
are site registries and what their sites have in common. The LoRaWAN tables hold what the network
servers' uplinks need: which Datastream each decoded field of a device feeds, which uplinks were
stored already (a network server retries), and which gateways heard each uplink, with RSSI and SNR,
for the coverage and redundancy of sensors.
"""

from __future__ import annotations

from sqlalchemy import Column, Double, ForeignKey, Index, Integer, Table, Text

from urbantwin.store.schema import metadata
from urbantwin.store.types import Id, Json, UtcTime

#: One row per collection that is a site registry: its operator and the defaults of its sites.
infrastructure_registries = Table(
    "infrastructure_registries",
    metadata,
    Column("collection_id", Text, ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True),
    Column("operator", Text, nullable=False),
    #: table (an operator's list, imported with a mapping) or freifunk (a community's node feed)
    Column("source_kind", Text, nullable=False),
    #: Values every site of the registry has unless it says otherwise (technology, carrier, ...),
    #: and which property is the site's id (`id_property`).
    Column("defaults", Json, nullable=False),
    Column("updated", UtcTime, nullable=False),
)

#: Which Datastream a decoded field of a LoRaWAN device (DevEUI, 16 upper-case hex digits) feeds.
lorawan_streams = Table(
    "lorawan_streams",
    metadata,
    Column("dev_eui", Text, primary_key=True),
    Column("field", Text, primary_key=True),
    Column("datastream_id", Id, ForeignKey("datastreams.id", ondelete="CASCADE"), nullable=False),
    Column("created", UtcTime, nullable=False),
)

#: Uplinks stored, by the key a retry of the network server repeats (its deduplication id, or
#: DevEUI, frame counter and time): a second delivery is answered without storing anything.
lorawan_uplinks = Table(
    "lorawan_uplinks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("dedupe_key", Text, nullable=False, unique=True),
    Column("network", Text, nullable=False),
    Column("dev_eui", Text, nullable=False),
    Column("f_cnt", Integer),
    Column("received", UtcTime, nullable=False),
    Column("observations", Integer, nullable=False),
    Index("ix_lorawan_uplinks_device", "dev_eui", "received"),
)

#: Each gateway that heard an uplink, with the signal it heard.
lorawan_receptions = Table(
    "lorawan_receptions",
    metadata,
    Column("uplink_id", Id, ForeignKey("lorawan_uplinks.id", ondelete="CASCADE"), primary_key=True),
    Column("gateway_id", Text, primary_key=True),
    Column("dev_eui", Text, nullable=False),
    Column("rssi", Double),
    Column("snr", Double),
    Column("received", UtcTime, nullable=False),
    Index("ix_lorawan_receptions_device", "dev_eui", "gateway_id"),
)
