"""The checker's report as JSON (for machines: every check with its requirement URI, verdict, reason
and evidence) and as one self-contained HTML page (styles inline, no script, no external file), in
English or German."""

from __future__ import annotations

from html import escape
from typing import Any

import orjson

from urbantwin.conformance.core import Result
from urbantwin.conformance.runner import CLASS_TITLES, Report

VERDICTS = {
    "en": {"pass": "pass", "fail": "fail", "skip": "skipped"},
    "de": {"pass": "bestanden", "fail": "nicht bestanden", "skip": "übersprungen"},
}

WORDS = {
    "en": {
        "title": "Conformance report",
        "endpoint": "Endpoint",
        "started": "Started",
        "duration": "Duration",
        "mode": "Mode",
        "read-only": "read only",
        "writing": "writing (created entities were deleted afterwards)",
        "class": "Conformance class",
        "claimed": "claimed",
        "not claimed": "not claimed",
        "verdict": "Verdict",
        "requirement": "Requirement",
        "check": "Check",
        "reason": "Reason",
        "evidence": "Evidence",
        "problems": "Problems of the run",
        "left": "Left behind on the server (could not be deleted)",
        "unchecked": "Claimed classes this checker has no checks for",
        "none": "none",
        "all passed": "Every check that ran passed.",
        "some failed": "Some checks failed.",
        "request": "request",
        "answer": "answer",
    },
    "de": {
        "title": "Konformitätsbericht",
        "endpoint": "Endpunkt",
        "started": "Begonnen",
        "duration": "Dauer",
        "mode": "Modus",
        "read-only": "nur lesend",
        "writing": "schreibend (angelegte Entitäten wurden danach gelöscht)",
        "class": "Konformitätsklasse",
        "claimed": "beansprucht",
        "not claimed": "nicht beansprucht",
        "verdict": "Ergebnis",
        "requirement": "Anforderung",
        "check": "Prüfung",
        "reason": "Grund",
        "evidence": "Belege",
        "problems": "Probleme des Laufs",
        "left": "Auf dem Server verblieben (nicht löschbar)",
        "unchecked": "Beanspruchte Klassen, für die dieser Prüfer keine Prüfungen hat",
        "none": "keine",
        "all passed": "Jede ausgeführte Prüfung wurde bestanden.",
        "some failed": "Einige Prüfungen wurden nicht bestanden.",
        "request": "Anfrage",
        "answer": "Antwort",
    },
}


def checks_counted(count: int, verdict: str, lang: str) -> str:
    """`3 checks passed` / `1 Prüfung bestanden`, with the plural each language uses."""
    if lang == "de":
        noun = "Prüfung" if count == 1 else "Prüfungen"
        return f"{count} {noun} {VERDICTS['de'][verdict]}"
    noun = "check" if count == 1 else "checks"
    verb = {"pass": "passed", "fail": "failed", "skip": "skipped"}[verdict]
    return f"{count} {noun} {verb}"


def seconds(value: float, lang: str) -> str:
    if lang == "de":
        return f"{value:.1f} Sekunde".replace(".", ",") + ("" if value == 1 else "n")
    return f"{value:.1f} second" + ("" if value == 1 else "s")


def as_json(report: Report, lang: str = "en") -> dict[str, Any]:
    return {
        "url": report.url,
        "started": report.started,
        "seconds": round(report.seconds, 2),
        "write": report.write,
        "endpoints": {"sensorthings": report.sensorthings, "features": report.features},
        "claimed": report.claimed,
        "ok": report.ok,
        "counts": report.counts(),
        "classes": report.classes(),
        "unchecked_claims": report.unchecked(),
        "problems": report.problems,
        "left_behind": report.left_behind,
        "checks": [result.as_json(lang) for result in report.results],
    }


def json_bytes(report: Report, lang: str = "en") -> bytes:
    return orjson.dumps(as_json(report, lang), option=orjson.OPT_INDENT_2)


STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1d232a}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccd}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #e3e6ea;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f3f5f7}code{font-size:.85em;word-break:break-all}
.pass{color:#0a6b2d;font-weight:600}.fail{color:#b3141b;font-weight:600}.skip{color:#6b6f75}
.summary{font-size:1.1rem}details pre{white-space:pre-wrap;background:#f7f7f9;padding:.5rem;
font-size:.8rem;max-height:20rem;overflow:auto}dl{display:grid;grid-template-columns:max-content auto;
gap:.2rem 1rem}dt{font-weight:600}
"""


def _evidence(result: Result, words: dict[str, str]) -> str:
    if not result.evidence:
        return ""
    parts = []
    for exchange in result.evidence:
        head = f"{exchange.method} {exchange.url}"
        if exchange.status is not None:
            head += f" → {exchange.status}"
        body = f"{words['request']}: {exchange.request_body}\n" if exchange.request_body else ""
        parts.append(
            f"<pre>{escape(head)}\n{escape(body)}{escape(words['answer'])}: "
            f"{escape(exchange.response_excerpt)}</pre>"
        )
    return (
        f"<details><summary>{escape(words['evidence'])} ({len(result.evidence)})</summary>"
        + "".join(parts)
        + "</details>"
    )


def html_page(report: Report, lang: str = "en") -> str:
    words = WORDS[lang]
    verdicts = VERDICTS[lang]
    counts = report.counts()
    summary = ", ".join(checks_counted(counts[v], v, lang) for v in ("pass", "fail", "skip"))
    endpoints = ", ".join(escape(e) for e in (report.sensorthings, report.features) if e) or escape(
        report.url
    )
    out = [
        f'<!doctype html><html lang="{lang}"><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width">'
        f"<title>{escape(words['title'])}: {escape(report.url)}</title><style>{STYLE}</style><body>",
        f"<h1>{escape(words['title'])}</h1><dl>",
        f"<dt>{escape(words['endpoint'])}</dt><dd>{endpoints}</dd>",
        f"<dt>{escape(words['started'])}</dt><dd>{escape(report.started)}</dd>",
        f"<dt>{escape(words['duration'])}</dt><dd>{escape(seconds(report.seconds, lang))}</dd>",
        f"<dt>{escape(words['mode'])}</dt>"
        f"<dd>{escape(words['writing' if report.write else 'read-only'])}</dd>",
        "</dl>",
        f'<p class="summary {"pass" if report.ok else "fail"}">'
        f"{escape(words['all passed' if report.ok else 'some failed'])} {escape(summary)}.</p>",
    ]
    if report.problems:
        out.append(f"<h2>{escape(words['problems'])}</h2><ul>")
        out += [f"<li>{escape(problem)}</li>" for problem in report.problems]
        out.append("</ul>")
    if report.left_behind:
        out.append(f"<h2>{escape(words['left'])}</h2><ul>")
        out += [f"<li><code>{escape(link)}</code></li>" for link in report.left_behind]
        out.append("</ul>")
    out.append(
        f"<h2>{escape(words['class'])}</h2><table><tr><th>{escape(words['class'])}</th>"
        f"<th>{escape(words['claimed'])}</th><th>{escape(words['verdict'])}</th><th></th></tr>"
    )
    for row in report.classes():
        title = CLASS_TITLES.get(row["class"])
        name = title.get(lang) if title else row["class"]
        tally = ", ".join(checks_counted(row[v], v, lang) for v in ("pass", "fail", "skip") if row[v])
        out.append(
            f"<tr><td>{escape(name)}<br><code>{escape(row['class'])}</code></td>"
            f"<td>{escape(words['claimed' if row['claimed'] else 'not claimed'])}</td>"
            f'<td class="{row["verdict"]}">{escape(verdicts[row["verdict"]])}</td>'
            f"<td>{escape(tally)}</td></tr>"
        )
    out.append("</table>")
    unchecked = report.unchecked()
    out.append(f"<h2>{escape(words['unchecked'])}</h2>")
    out.append(
        "<ul>" + "".join(f"<li><code>{escape(uri)}</code></li>" for uri in unchecked) + "</ul>"
        if unchecked
        else f"<p>{escape(words['none'])}</p>"
    )
    current = None
    for result in report.results:
        if result.check.cls != current:
            if current is not None:
                out.append("</table>")
            current = result.check.cls
            title = CLASS_TITLES.get(current)
            out.append(
                f"<h2>{escape(title.get(lang) if title else current)}</h2><table><tr>"
                f"<th>{escape(words['check'])}</th><th>{escape(words['verdict'])}</th>"
                f"<th>{escape(words['reason'])}</th></tr>"
            )
        out.append(
            f"<tr><td>{escape(result.check.title.get(lang))}<br>"
            f'<code><a href="{escape(result.check.uri)}">{escape(result.check.uri)}</a></code></td>'
            f'<td class="{result.verdict}">{escape(verdicts[result.verdict])}</td>'
            f"<td>{escape(result.reason)}{_evidence(result, words)}</td></tr>"
        )
    if current is not None:
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)
