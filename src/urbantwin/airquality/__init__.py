"""Clean air: the assessment of station measurements against the EU air quality directives and the
WHO 2021 guidelines, and the European Air Quality Index, at `/api/air/` (docs/air.md).

`standards` reads the limit values and rules (data, one TOML per standard, each value with its
source), `engine` computes (pandas in, dataclasses out: no store, no HTTP), `service` reads the
stations' series through the time-series service for the caller, `routes` binds it to HTTP.
"""
