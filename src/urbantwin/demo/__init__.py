"""Leipzig demo data: real open data shipped with the package (see `SOURCES.md`) and a loader
that turns it into OGC SensorThings API payloads (`urbantwin.demo.sensorthings`)."""

from __future__ import annotations

from pathlib import Path

#: Folder of the bundled demo data files (copies; nothing is read from outside the package).
DATA_DIR = Path(__file__).resolve().parent / "data"
#: The demo city's profile (`urbantwin city init` reads the same kind of file for any city).
PROFILE = Path(__file__).resolve().parent / "city.toml"
#: The demo's energy quarter (Leipzig-West): its scenario files and `quarter.toml`, which `urbantwin
#: demo` hands to the energy module as the setting `energy_scenarios`.
ENERGY_SCENARIOS = Path(__file__).resolve().parent / "energy"

#: The demo city's goals and indicators (`urbantwin indicators load` reads the same kind of file).
INDICATORS = Path(__file__).resolve().parent / "indicators.toml"

__all__ = ["DATA_DIR", "ENERGY_SCENARIOS", "INDICATORS", "PROFILE"]
