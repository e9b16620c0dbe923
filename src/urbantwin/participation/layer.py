"""A procedure's published contributions as a layer of the twin: an OGC API Features collection
(`participation-<procedure>`), so the viewer shows it in its layer tree beside the city's own data,
and QGIS or any OGC API client reads it too.

The layer is written again, whole, in the transaction of every moderation of a contribution, with
the platform's importer (`ingest.pipeline.store_rows_in`, the path every collection takes), so it
holds exactly the published contributions — never one received or declined, never a contact. A new
collection is an open catalogue dataset of its own, as every imported collection is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from urbantwin.ingest.geojson import features_from_document
from urbantwin.ingest.pipeline import CollectionInfo, crs_name, store_rows_in
from urbantwin.participation.texts import SYNTHETIC
from urbantwin.store.features_schema import collections
from urbantwin.store.participation_schema import contributions, procedures


def layer_id(procedure: str) -> str:
    return f"participation-{procedure}"


def publish_layer(connection: Connection, procedure: str) -> None:
    """Write the procedure's layer afresh (inside the moderation's transaction)."""
    row = connection.execute(select(procedures).where(procedures.c.id == procedure)).first()
    if row is None:
        return
    published = connection.execute(
        select(
            contributions.c.id,
            contributions.c.category,
            contributions.c.question,
            contributions.c.text,
            contributions.c.answer,
            contributions.c.geometry,
            contributions.c.created,
        )
        .where(contributions.c.procedure_id == procedure, contributions.c.status == "published")
        .order_by(contributions.c.id)
    ).all()
    ident = layer_id(procedure)
    exists = connection.execute(select(collections.c.id).where(collections.c.id == ident)).first() is not None
    if not published and not exists:
        return
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "geometry": item.geometry,
            "properties": {
                "contribution": item.id,
                "category": item.category,
                "question": item.question,
                "text": item.text,
                "answer": item.answer,
            },
        }
        for item in published
    ]
    crs, rows = features_from_document(
        {"type": "FeatureCollection", "features": features}, Path(ident), id_property="contribution"
    )
    note = f" {SYNTHETIC['en']}." if row.synthetic else ""
    info = CollectionInfo(
        id=ident,
        title=f"Participation: {row.title}",
        description=f"The published contributions of the participation procedure '{row.title}'.{note}",
        keywords=["participation"],
        source=f"/api/participation/procedures/{procedure}",
    )
    store_rows_in(connection, rows, info, crs_name(crs), progress=False, delete_missing=True)
