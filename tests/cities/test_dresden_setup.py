"""A second city stands up from its profile and its own files alone: the commands of docs/new-city.md,
run as written on an empty store, make the Dresden platform that its data officer would expect."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from urbantwin.app import create_app
from urbantwin.cli import app as cli
from urbantwin.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "new-city.md"
UTM33 = "http://www.opengis.net/def/crs/EPSG/0/25833"


def documented_commands() -> list[list[str]]:
    """The `urbantwin …` lines of the page's ```sh blocks, in order, split as a shell would."""
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("urbantwin ")]


def set_up_dresden(database_url: str) -> list[str]:
    """Run the page's commands from the repository's root; their outputs."""
    outputs = []
    for command in documented_commands():
        result = CliRunner().invoke(cli, [*command, "--database-url", database_url])
        assert result.exit_code == 0, (command, result.output)
        outputs.append(result.output)
    return outputs


@pytest.fixture
def dresden(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.chdir(ROOT)
    set_up_dresden(settings.database_url)
    with TestClient(create_app(settings, engine)) as client:
        yield client


def test_the_page_shows_the_whole_setup() -> None:
    verbs = [command[:2] for command in documented_commands()]
    assert verbs[0] == ["city", "init"]
    assert ["import", "geojson"] in verbs and ["import", "things"] in verbs
    assert verbs.count(["import", "stations"]) == 6 and ["import", "cams"] in verbs


@pytest.mark.long  # six months of station files and a register, on both backends
def test_dresden_stands_up_from_its_profile_and_files(dresden: TestClient) -> None:
    config = dresden.get("/api/viewer/config").json()
    city = config["city"]
    assert (city["name"], city["timeZone"], city["extent"]) == (
        "Dresden",
        "Europe/Berlin",
        [13.57, 50.97, 13.97, 51.18],
    )
    assert city["districts"][0] == {
        "collection": "stadtteile",
        "nameProperty": "name",
        "populationProperty": "population_{year}",
        "label": {"de": "Stadtteile", "en": "Districts"},
    }

    # The districts, in the city's CRS too, with their population per year.
    stadtteile = dresden.get("/ogcapi/collections/stadtteile").json()
    assert UTM33 in stadtteile["crs"]
    minx, miny, maxx, maxy = stadtteile["extent"]["spatial"]["bbox"][0]
    assert 13.57 <= minx < maxx <= 13.97 and 50.97 <= miny < maxy <= 51.18
    neustadt = dresden.get("/ogcapi/collections/stadtteile/items", params={"name": "Innere Neustadt"}).json()
    assert neustadt["numberReturned"] == 1
    properties = neustadt["features"][0]["properties"]
    assert all(properties[f"population_{year}"] > 0 for year in (2020, 2022, 2024))

    # The sensor network: three stations, hourly values stamped at the end of each MEZ hour.
    stations = dresden.get(
        "/v1.1/Things", params={"$filter": "startswith(name,'Air quality station Dresden')", "$count": "true"}
    ).json()
    assert stations["@iot.count"] == 3
    no2 = dresden.get(
        "/v1.1/Datastreams",
        params={"$filter": "name eq 'NO2 at Dresden-Nord'"},
    ).json()["value"]
    assert len(no2) == 1, no2
    first = dresden.get(
        f"/v1.1/Datastreams({no2[0]['@iot.id']})/Observations",
        params={"$orderby": "phenomenonTime asc", "$top": "1"},
    ).json()["value"][0]
    # 2019-01-01 01:00 MEZ ends the hour 00:00-01:00 MEZ, i.e. 2018-12-31 23:00 to 2019-01-01 00:00 UTC.
    assert first["phenomenonTime"] == "2018-12-31T23:00:00Z/2019-01-01T00:00:00Z"
    assert first["result"] == 26
    counted = dresden.get(
        f"/v1.1/Datastreams({no2[0]['@iot.id']})/Observations", params={"$count": "true", "$top": "0"}
    )
    assert 1300 < counted.json()["@iot.count"] <= 744 + 672

    # The sensor means per Stadtteil: each station lies in its own Stadtteil.
    means = dresden.get(
        "/api/timeseries/districts",
        params={"collection": "stadtteile", "observedProperty": "Nitrogen dioxide (NO2)"},
    ).json()
    located = {d["name"] for d in means["districts"] if d["sensors"]}
    assert located == {"Innere Neustadt", "Räcknitz/Zschertnitz", "Südvorstadt-West"}

    # The register: one Thing per charging station, and the stations as a collection.
    register = dresden.get(
        "/v1.1/Things", params={"$filter": "startswith(name,'Ladestation')", "$count": "true"}
    )
    assert register.json()["@iot.count"] == 24
    assert (
        dresden.get("/ogcapi/collections/ladesaeulen/items", params={"limit": 1}).json()["numberMatched"]
        == 24
    )

    # The catalogue: each dataset under its publisher and licence; the forecasts apart, as model data.
    def record(dataset: str) -> dict:
        answer = dresden.get(f"/catalog/datasets/{dataset}", params={"f": "json"})
        assert answer.status_code == 200, answer.text
        return answer.json()

    stadtteile = record("stadtteile")
    assert (stadtteile["publisher"]["id"], stadtteile["licence"]["code"]) == ("stadt-dresden", "dl-by-de/2.0")
    assert record("ladesaeulenregister")["publisher"]["id"] == "bnetza"
    assert record("lfulg-stations")["publisher"]["id"] == "lfulg"
    forecasts = record("cams-forecasts")
    assert forecasts["publisher"]["id"] == "cams"
    assert "Copernicus" in forecasts["description"]


def test_setting_dresden_up_again_adds_nothing(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    set_up_dresden(settings.database_url)
    again = [
        output
        for command, output in zip(
            documented_commands(), set_up_dresden_again(settings.database_url), strict=True
        )
        if command[0] == "import"
    ]
    assert all(
        "Created: nothing new." in output
        or "0 inserted, 0 updated" in output
        or " 0 observations added" in output
        for output in again
    ), again


def set_up_dresden_again(database_url: str) -> list[str]:
    """The page's commands once more (`org add` is refused for an organisation that exists)."""
    outputs = []
    for command in documented_commands():
        if command[:2] == ["org", "add"]:
            outputs.append("")
            continue
        result = CliRunner().invoke(cli, [*command, "--database-url", database_url])
        assert result.exit_code == 0, (command, result.output)
        outputs.append(result.output)
    return outputs
