"""People on a hand-made grid: a district's residents on its homes by floor area, another's spread
over its area, and the per-district table of what a coverage mask reaches."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from urbantwin.infrastructure.population import Building, District, district_table, place_people
from urbantwin.infrastructure.raster import Grid

#: 200 m × 100 m at 10 m: district A is the western half, B the eastern.
GRID = Grid(0.0, 0.0, 10.0, 20, 10)
A = District("A", shapely.box(0, 0, 100, 100), 120.0)
B = District("B", shapely.box(100, 0, 200, 100), 50.0)


def test_residents_on_homes_by_floor_area_else_spread() -> None:
    homes = [
        # 20 m × 20 m, 9 m: 400 m² × 3 storeys = 1,200 m², four cells
        Building(shapely.box(20, 20, 40, 40), 9.0, True),
        # 20 m × 10 m, 12 m: 200 m² × 4 storeys = 800 m², two cells
        Building(shapely.box(60, 60, 80, 70), 12.0, True),
        # an office: no residents
        Building(shapely.box(60, 10, 90, 40), 20.0, False),
    ]
    people = place_people(GRID, [A, B], homes)
    assert people.placement == ["buildings", "spread"]
    # A: 2,000 m² of homes for 120 residents (≥ 10 m² each): 72 on the first, 48 on the second
    assert people.per_cell[2, 2] == pytest.approx(72 / 4)
    assert people.per_cell[6, 6] == pytest.approx(48 / 2)
    assert people.per_cell[2, 7] == 0.0  # the office
    assert people.per_cell[:, :10].sum() == pytest.approx(120.0)
    # B: 50 residents over 10,000 m², 0.5 per 100 m² cell
    assert people.per_cell[:, 10:] == pytest.approx(np.full((10, 10), 0.5))
    assert people.district[0, 0] == 0 and people.district[0, 19] == 1


def test_too_little_floor_area_for_the_residents_is_spread() -> None:
    # 100 m² × 1 storey for 120 residents: under 10 m² each, so A is spread too
    people = place_people(GRID, [A], [Building(shapely.box(20, 20, 30, 30), 3.0, True)])
    assert people.placement == ["spread"]
    assert people.per_cell[:, :10] == pytest.approx(np.full((10, 10), 1.2))


def test_a_home_smaller_than_a_cell_gives_its_people_to_its_cell() -> None:
    # a 4 m × 4 m footprint holds no cell centre; 16 m² × 5 storeys = 80 m² for 5 residents
    small = District("S", shapely.box(0, 0, 100, 100), 5.0)
    people = place_people(GRID, [small], [Building(shapely.box(41, 41, 45, 45), 15.0, True)])
    assert people.placement == ["buildings"]
    assert people.per_cell[4, 4] == pytest.approx(5.0)


def test_the_district_table_of_a_coverage_mask() -> None:
    people = place_people(GRID, [A, B], [Building(shapely.box(20, 20, 40, 40), 9.0, True)])
    covered = np.zeros((10, 20), dtype=bool)
    covered[:, 15:] = True  # the eastern half of B
    covered[2, 2] = True  # one of the home's four cells
    table = {row["name"]: row for row in district_table([A, B], people, covered)}
    assert table["A"]["covered_population"] == pytest.approx(30.0)
    assert table["A"]["covered_population_share"] == pytest.approx(0.25)
    assert table["A"]["covered_area_km2"] == pytest.approx(0.0001)
    assert table["B"]["covered_population"] == pytest.approx(25.0)
    assert table["B"]["covered_area_share"] == pytest.approx(0.5)
    assert table["B"]["area_km2"] == pytest.approx(0.01)
