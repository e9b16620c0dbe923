"""`urbantwin check URL`: run the conformance checker against an endpoint and write its reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from urbantwin.conformance.core import Options, Result

LANGUAGES = ("en", "de")


def check(
    url: Annotated[
        str, typer.Argument(help="a SensorThings service root, an OGC API landing page, or a platform's root")
    ],
    write: Annotated[
        bool,
        typer.Option("--write", help="also run the checks that create, change and delete (needs --token)"),
    ] = False,
    token: Annotated[
        str | None, typer.Option(help="bearer token sent with every request", envvar="URBANTWIN_CHECK_TOKEN")
    ] = None,
    json_report: Annotated[
        Path | None, typer.Option("--json", help="write the JSON report to this file")
    ] = None,
    html_report: Annotated[
        Path | None, typer.Option("--html", help="write the HTML report to this file")
    ] = None,
    lang: Annotated[str, typer.Option(help="language of the reports: en or de")] = "en",
    api: Annotated[
        list[str] | None, typer.Option(help="check only this API: sensorthings or features (repeatable)")
    ] = None,
    collection: Annotated[
        str | None, typer.Option(help="the OGC API collection to check (default: the first with a feature)")
    ] = None,
    mqtt_url: Annotated[
        str | None, typer.Option(help="the MQTT broker, if not the one the service root names")
    ] = None,
    mqtt_topic_prefix: Annotated[str, typer.Option(help="prefix of the server's MQTT topics")] = "",
    timeout: Annotated[float, typer.Option(help="seconds to wait for each answer")] = 30.0,
) -> None:
    """Check an endpoint's conformance to SensorThings API 1.1 and OGC API Features parts 1-4.

    Reads only, unless --write (with --token) lets it create entities of its own, which it deletes
    afterwards. Exit code 0 when no check failed, 1 otherwise."""
    from urbantwin.conformance.report import html_page, json_bytes
    from urbantwin.conformance.runner import run

    if lang not in LANGUAGES:
        raise typer.BadParameter(
            f"the language must be one of {', '.join(LANGUAGES)}, not {lang!r}", param_hint="--lang"
        )
    if write and not token:
        raise typer.BadParameter(
            "the write checks need a token (--token or URBANTWIN_CHECK_TOKEN)", param_hint="--write"
        )
    apis = tuple(api or ("sensorthings", "features"))
    unknown = [name for name in apis if name not in ("sensorthings", "features")]
    if unknown:
        raise typer.BadParameter(
            f"unknown API {', '.join(unknown)}: sensorthings or features", param_hint="--api"
        )
    options = Options(
        write=write,
        token=token,
        mqtt_url=mqtt_url,
        mqtt_topic_prefix=mqtt_topic_prefix,
        collection=collection,
        timeout=timeout,
    )
    marks = {"pass": typer.style("pass", fg="green"), "fail": typer.style("FAIL", fg="red"), "skip": "skip"}

    def shown(result: Result) -> None:
        line = f"{marks[result.verdict]:>4}  {result.check.id}"
        if result.verdict != "pass":
            line += f"  ({result.reason})"
        typer.echo(line)

    report = run(url, options, apis=apis, progress=shown)
    for problem in report.problems:
        typer.echo(f"Error: {problem}", err=True)
    for link in report.left_behind:
        typer.echo(f"Left behind (could not delete): {link}", err=True)
    if json_report:
        json_report.write_bytes(json_bytes(report, lang))
    if html_report:
        html_report.write_text(html_page(report, lang), encoding="utf-8")
    counts = report.counts()
    typer.echo(
        f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped "
        f"in {report.seconds:.1f} s"
    )
    if not report.ok:
        raise typer.Exit(1)
