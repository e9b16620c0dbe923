"""Goals and indicators (*Zielüberprüfung*): a registry of the city's indicators and targets, their
values per year computed from the platform's data or entered by hand, and a traffic light per target
(docs/indicators.md)."""
