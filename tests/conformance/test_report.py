"""The checker's reports: counts with the plural of each language, the classes' verdicts, the claimed
classes the checker covers, and the HTML page escaping what the server said."""

from __future__ import annotations

from urbantwin.conformance.core import Check, Exchange, Result, Text
from urbantwin.conformance.report import as_json, checks_counted, html_page
from urbantwin.conformance.runner import Report
from urbantwin.conformance.sta import BATCH, CUD, REQUEST_DATA


def result(id: str, cls: str, verdict: str, reason: str = "", answer: str = "{}") -> Result:
    check = Check(id, "sensorthings", cls, f"{cls}/x", Text(f"{id} in English", f"{id} auf Deutsch"), print)
    return Result(check, verdict, reason, [Exchange("GET", "http://h/v1.1/Things", None, 200, answer)], 0.1)


def report() -> Report:
    made = Report("http://h/v1.1", "2026-12-07T12:00:00Z", sensorthings="http://h/v1.1")
    made.claimed["sensorthings"] = [REQUEST_DATA, CUD, f"{CUD}/update-entity-put", "urn:other:class"]
    made.results = [
        result("a", REQUEST_DATA, "pass"),
        result("b", REQUEST_DATA, "fail", "ignored <$top>", answer='<script>alert("x")</script>'),
        result("c", CUD, "skip", "a read-only run"),
        result("d", BATCH, "skip", "not claimed"),
    ]
    return made


def test_counts_are_worded_with_each_language_s_plural() -> None:
    assert checks_counted(1, "pass", "en") == "1 check passed"
    assert checks_counted(3, "fail", "en") == "3 checks failed"
    assert checks_counted(1, "skip", "de") == "1 Prüfung übersprungen"
    assert checks_counted(0, "pass", "de") == "0 Prüfungen bestanden"


def test_a_class_fails_with_one_failed_check_and_is_skipped_with_none_run() -> None:
    document = as_json(report(), "de")
    assert document["ok"] is False
    assert document["counts"] == {"pass": 1, "fail": 1, "skip": 2}
    rows = {row["class"]: (row["claimed"], row["verdict"]) for row in document["classes"]}
    assert rows == {REQUEST_DATA: (True, "fail"), CUD: (True, "skip"), BATCH: (False, "skip")}
    # A claimed requirement the checks test is covered; a class no check knows is listed.
    assert document["unchecked_claims"] == ["urn:other:class"]
    assert document["checks"][0]["title"] == "a auf Deutsch"


def test_the_page_escapes_the_server_s_answers_and_names_each_requirement() -> None:
    page = html_page(report(), "en")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "ignored &lt;$top&gt;" in page
    assert f'<a href="{REQUEST_DATA}/x">' in page
    assert "Some checks failed. 1 check passed, 1 check failed, 2 checks skipped." in page
