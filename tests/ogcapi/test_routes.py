"""Caching of OGC API features: ETag, Last-Modified, Cache-Control and 304 (routes.py), both backends."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from urbantwin.store.access_schema import datasets
from urbantwin.store.features_schema import collections

ITEMS = "/ogcapi/collections/city/items"


def test_items_carry_validators_and_a_current_copy_is_confirmed_with_304(
    anonymous: TestClient, client: TestClient, city: Engine
) -> None:
    first = anonymous.get(ITEMS, params={"limit": 2})
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    assert first.headers["cache-control"] == "public, max-age=30"
    assert "Accept" in first.headers["vary"]
    modified = first.headers["last-modified"]
    assert modified.endswith(" GMT")

    again = anonymous.get(ITEMS, params={"limit": 2}, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "public, max-age=30"
    since = anonymous.get(ITEMS, params={"limit": 2}, headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    # Strong or weak, a list or `*`: compared weakly; another tag is answered in full.
    assert anonymous.get(ITEMS, headers={"If-None-Match": f'"x", {etag[2:]}'}).status_code == 304
    assert anonymous.get(ITEMS, headers={"If-None-Match": "*"}).status_code == 304
    assert anonymous.get(ITEMS, headers={"If-None-Match": 'W/"other"'}).status_code == 200
    # If-None-Match decides where both are given; a date that is not one is ignored.
    both = {"If-None-Match": 'W/"other"', "If-Modified-Since": modified}
    assert anonymous.get(ITEMS, headers=both).status_code == 200
    assert anonymous.get(ITEMS, headers={"If-Modified-Since": "yesterday"}).status_code == 200

    # The HTML page of the same URL is another representation, with a tag of its own.
    page = anonymous.get(ITEMS, params={"f": "html"})
    assert page.status_code == 200 and page.headers["etag"] != etag
    assert anonymous.get(ITEMS, params={"f": "html"}, headers={"If-None-Match": etag}).status_code == 200

    # A write changes the tag: the copy held is no longer confirmed.
    feature = {
        "type": "Feature",
        "properties": {"name": "new stop", "rank": 7},
        "geometry": {"type": "Point", "coordinates": [12.37, 51.34]},
    }
    assert client.post(ITEMS, json=feature).status_code == 201
    after = anonymous.get(ITEMS, params={"limit": 2}, headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["etag"] != etag


def test_a_single_feature_is_confirmed_and_changes_with_its_collection(
    anonymous: TestClient, client: TestClient, city: Engine
) -> None:
    first = anonymous.get(f"{ITEMS}/b")
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=30"
    assert anonymous.get(f"{ITEMS}/b", headers={"If-None-Match": etag}).status_code == 304
    # What is not there is a 404, whatever tag the client holds.
    assert anonymous.get(f"{ITEMS}/zz", headers={"If-None-Match": "*"}).status_code == 404
    assert client.patch(f"{ITEMS}/b", json={"properties": {"rank": 9}}).status_code == 204
    changed = anonymous.get(f"{ITEMS}/b", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["properties"]["rank"] == 9


def test_restricted_collections_are_private_and_a_reader_after_its_write_revalidates(
    anonymous: TestClient, client: TestClient, city: Engine
) -> None:
    with city.begin() as connection:
        dataset = connection.execute(
            select(collections.c.dataset_id).where(collections.c.id == "city")
        ).scalar_one()
        connection.execute(update(datasets).where(datasets.c.id == dataset).values(access_level="internal"))
    assert anonymous.get(ITEMS).status_code == 404
    hidden = client.get(ITEMS)
    assert hidden.status_code == 200
    assert hidden.headers["cache-control"] == "private, max-age=30"
    # The tag says which: a copy kept while the collection was open is not confirmed now.
    assert hidden.headers["etag"].endswith('-r"')

    fresh = client.get(ITEMS, headers={"Urbantwin-Read-After": "0/16B3748"})
    assert fresh.headers["cache-control"] == "private, no-cache"
    client.cookies.set("urbantwin_read_after", "0/16B3748")
    assert client.get(f"{ITEMS}/b").headers["cache-control"] == "private, no-cache"
