"""The checker's session: the token goes to the checked endpoints' own origin only, and a check's
trouble becomes its verdict, never the end of the run."""

from __future__ import annotations

import httpx

from urbantwin.conformance.core import Check, Options, Session, Text, require


def session(token: str | None = "secret") -> Session:
    made = Session(httpx.Client(), Options(token=token))
    made.sta_root = "http://city.example:8080/v1.1"
    made.features_root = "https://maps.example/ogcapi"
    return made


def test_the_token_goes_to_the_checked_origins_only() -> None:
    checked = session()
    bearer = {"Authorization": "Bearer secret"}
    assert checked.credentials("http://city.example:8080/v1.1/Things?$skip=100") == bearer
    assert checked.credentials("https://maps.example/ogcapi/collections") == bearer
    # A nextLink or selfLink a server made up, to another host, port or scheme: no token.
    assert checked.credentials("http://elsewhere.example/v1.1/Things") == {}
    assert checked.credentials("http://city.example:9999/v1.1/Things") == {}
    assert checked.credentials("http://maps.example/ogcapi/collections") == {}
    assert session(None).credentials("http://city.example:8080/v1.1/Things") == {}


def check(run) -> Check:  # noqa: ANN001
    return Check("x", "sensorthings", "urn:class", "urn:req", Text("x", "x"), run)


def test_a_failed_requirement_and_a_broken_check_are_both_failures_with_their_reason() -> None:
    checked = session()
    failed = checked.run(check(lambda _s: require(False, "the server ignored $top")))
    assert (failed.verdict, failed.reason) == ("fail", "the server ignored $top")
    broken = checked.run(check(lambda _s: 1 / 0))
    assert broken.verdict == "fail"
    assert broken.reason == "the check could not finish (ZeroDivisionError: division by zero)"
    writing = Check("w", "sensorthings", "urn:class", "urn:req", Text("w", "w"), lambda _s: None, writes=True)
    skipped = checked.run(writing)
    assert skipped.verdict == "skip" and "read-only" in skipped.reason
