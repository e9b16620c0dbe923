"""The virtual energy quarter (SPARCS): a district energy model of the twin's buildings.

Buildings from the city model (`model.py`), demand from the BDEW load profiles and the TABULA
typology on the DWD test reference year (`loads.py`, `weather.py`), rooftop PV with pvlib (`pv.py`),
batteries, heat pumps and EV charging (`components.py`), three control strategies over a year at
15-minute steps (`strategies.py`: the `engine.py` with its compiled step `kernel.py`, the day-ahead LP
`planner.py`), KPIs and the SPARCS targets (`kpi.py`), scenarios as TOML files
(`scenario.py`, `scenarios/`), results as catalogue datasets and files (`results.py`), and the
`urbantwin energy` command (`cli.py`). See docs/energy.md for the model and its assumptions.
"""
