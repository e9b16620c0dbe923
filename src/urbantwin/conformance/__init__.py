"""`urbantwin check URL`: a conformance checker for OGC SensorThings API 1.1 (every class of part 1,
with the MQTT extension) and OGC API Features parts 1 to 4, against any endpoint, ours or anyone's.

It is a client and nothing else: it speaks HTTP (httpx) and MQTT (paho-mqtt) to the server it is
given and imports nothing of the platform's server side, so what it reports about our own server is
what any other client would see. Each check names the requirement of the standard it tests (its URI),
gives a verdict (pass, fail, or skip with the reason) and keeps its evidence: every request it made
and an excerpt of every answer. It reads only, unless asked to write (`--write` with a token); then it
creates entities of its own and deletes them afterwards.

- `core`: checks, results, evidence and the session that makes requests and records them;
- `sta`, `mqtt`: the SensorThings checks; `features`: the OGC API Features checks;
- `runner`: finds the APIs behind a URL, what they claim, runs the checks; `report`: JSON and HTML.
"""
