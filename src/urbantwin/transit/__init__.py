"""Public transport: GTFS feeds imported into the store, the traction energy and CO2 model on them,
and scenarios (electrified lines, PV at depots and stops, driving, timetables) stored as runs
(docs/transit.md)."""
