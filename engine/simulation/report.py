"""A simulation's figures as JSON, CSV and a self-contained HTML report (inline SVG charts, no scripts,
nothing fetched from anywhere) that a duty manager can read: what was simulated, compliance per service with
its confidence interval, arm beside arm, queues over time, and where referrals wait on the diagram."""

from __future__ import annotations

import csv
import io
from html import escape

from engine.olas.olas import REPORT_GROUPINGS
from engine.simulation.charts import bar_chart, line_chart
from engine.simulation.runner import SimulationResult

GROUPING_TITLES = {
    "service": "Per receiving service",
    "organisation_pair": "Per organisation pair (sender → receiver)",
    "obligation": "Per OLA obligation",
    "party": "Per party (receiver or sender)",
}
CSV_COLUMNS = (
    "arm",
    "grouping",
    "group",
    "met",
    "breached",
    "percent_met",
    "percent_met_low",
    "percent_met_high",
    "median_seconds_to_meet",
    "p90_seconds_to_meet",
    "runs_with_clocks",
)


def as_dict(result: SimulationResult) -> dict:
    plan = result.plan
    return {
        "start": plan.start.isoformat(),
        "end": plan.end.isoformat(),
        "days": plan.days,
        "warm_up_days": plan.warm_up_days,
        "runs": plan.runs,
        "seed": plan.seed,
        "cancelled": result.cancelled,
        "seconds": round(result.seconds, 1),
        "referrals": result.referrals,
        "referrals_per_second": round(result.referrals / result.seconds, 2) if result.seconds else None,
        "demand": plan.demand.describe(),
        "behaviour": plan.behaviour.describe(),
        "arms": [arm.summary() for arm in result.arms],
    }


def as_csv(summary: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for arm in summary["arms"]:
        for grouping in REPORT_GROUPINGS:
            for row in arm["compliance"][grouping]:
                writer.writerow(
                    [arm["label"], grouping, " / ".join(row["group"])] + [row[c] for c in CSV_COLUMNS[3:]]
                )
    return out.getvalue()


def as_html(summary: dict, title: str = "Pathway simulation") -> str:
    arms = summary["arms"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body><main>",
        f"<h1>{escape(title)}</h1>",
        _overview(summary),
    ]
    if summary["cancelled"]:
        parts.append(
            "<p class='warning'>The simulation was cancelled: the figures cover the runs that finished.</p>"
        )
    parts.append("<h2>Predicted OLA compliance per service</h2>")
    parts.append(_service_chart(arms))
    for grouping in REPORT_GROUPINGS:
        parts.append(f"<h2>{GROUPING_TITLES[grouping]}</h2>")
        parts.append(_compliance_table(arms, grouping))
    parts.append("<h2>Queues over time</h2>")
    parts.append(
        "<p>Hand-offs waiting for someone at the service to pick them up, at each simulated hour from the "
        "start of the warm-up (mean over the runs).</p>"
    )
    parts.append(_queue_charts(arms))
    parts.append("<h2>Where referrals wait on the diagram</h2>")
    parts.append(_dwell_tables(arms))
    notes = [(arm["label"], note, count) for arm in arms for note, count in arm["notes"].items()]
    if notes:
        parts.append("<h2>What the simulated people could not do</h2><ul>")
        parts += [f"<li>{escape(label)}: {escape(note)} ({count:g}x)</li>" for label, note, count in notes]
        parts.append("</ul>")
    parts.append("</main></body></html>")
    return "".join(parts)


def _overview(summary: dict) -> str:
    rows = [
        ("Period reported", f"{summary['start'][:16]} to {summary['end'][:16]} ({summary['days']:g} days)"),
        ("Warm-up before it", f"{summary['warm_up_days']:g} days (not counted)"),
        (
            "Runs per arm",
            f"{summary['runs']} (seeds {summary['seed']} to {summary['seed'] + summary['runs'] - 1})",
        ),
        ("Referrals simulated", f"{summary['referrals']:,} in {summary['seconds']:g} s"),
    ]
    for arm in summary["arms"]:
        changes = "; ".join(arm["what_if"]) or "no change"
        rows.append(
            (
                f"Arm: {arm['label']}",
                f"pathways {', '.join(arm['pathways'])}; {changes}; "
                f"{arm['referrals_per_run'] or 0:g} referrals a run",
            )
        )
    body = "".join(f"<tr><th scope='row'>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<table class='overview'>{body}</table>"


def _service_chart(arms: list[dict]) -> str:
    groups = sorted({tuple(r["group"]) for arm in arms for r in arm["compliance"]["service"]})
    series = []
    for arm in arms:
        rows = {tuple(r["group"]): r for r in arm["compliance"]["service"]}
        series.append(
            (
                arm["label"],
                [
                    (rows[g]["percent_met"], rows[g]["percent_met_low"], rows[g]["percent_met_high"])
                    if g in rows
                    else None
                    for g in groups
                ],
            )
        )
    return bar_chart([" / ".join(g) for g in groups], series, "% of obligations met")


def _compliance_table(arms: list[dict], grouping: str) -> str:
    groups = sorted({tuple(r["group"]) for arm in arms for r in arm["compliance"][grouping]})
    head = (
        "<tr><th scope='col'>Group</th>"
        + "".join(f"<th scope='col'>{escape(arm['label'])}</th>" for arm in arms)
        + "</tr>"
    )
    body = []
    for group in groups:
        cells = []
        for arm in arms:
            row = next((r for r in arm["compliance"][grouping] if tuple(r["group"]) == group), None)
            cells.append(f"<td>{_cell(row)}</td>")
        body.append(f"<tr><th scope='row'>{escape(' / '.join(group))}</th>{''.join(cells)}</tr>")
    if not body:
        return "<p>No OLA clock stopped or breached in the period.</p>"
    return f"<table><thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"


def _cell(row: dict | None) -> str:
    if row is None:
        return "—"
    interval = (
        f" <span class='ci'>({row['percent_met_low']:g}-{row['percent_met_high']:g})</span>"
        if row["percent_met_low"] is not None
        else ""
    )
    times = ""
    if row["median_seconds_to_meet"] is not None:
        times = (
            f"<br><span class='small'>median {_hours(row['median_seconds_to_meet'])}, "
            f"p90 {_hours(row['p90_seconds_to_meet'])} business time</span>"
        )
    return (
        f"<strong>{row['percent_met']:g}% met</strong>{interval}<br>"
        f"<span class='small'>{row['met']:g} met, {row['breached']:g} breached a run</span>{times}"
    )


def _hours(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _queue_charts(arms: list[dict]) -> str:
    services = sorted({s for arm in arms for s in arm["queues"]})
    busiest = sorted(
        services,
        key=lambda s: -max((p["waiting"] for arm in arms for p in arm["queues"].get(s, [])), default=0),
    )[:8]
    charts = []
    for service in busiest:
        series = [
            (arm["label"], [(p["hour"] / 24, p["waiting"]) for p in arm["queues"].get(service, [])])
            for arm in arms
        ]
        charts.append(
            f"<figure>{line_chart(series, 'days', 'waiting')}"
            f"<figcaption>{escape(service)}</figcaption></figure>"
        )
    return "".join(charts) or "<p>No hand-off was routed.</p>"


def _dwell_tables(arms: list[dict]) -> str:
    parts = []
    for arm in arms:
        # Automated steps hold a referral for no time: the elements where it waits are what a manager reads.
        elements = [e for e in arm["dwell"] if e["median_seconds"] > 0]
        if not elements:
            continue
        longest = max(e["median_seconds"] for e in elements) or 1
        rows = "".join(
            f"<tr><th scope='row'>{escape(e['element_id'])}</th><td>{e['passed']:g}</td>"
            f"<td style='background:rgba(214,69,65,{0.1 + 0.7 * e['median_seconds'] / longest:.2f})'>"
            f"{_hours(e['median_seconds'])}</td><td>{_hours(e['p90_seconds'])}</td></tr>"
            for e in elements
        )
        parts.append(
            f"<h3>{escape(arm['label'])}</h3><table><thead><tr><th scope='col'>Element</th>"
            "<th scope='col'>Referrals a run</th><th scope='col'>Median wait</th>"
            "<th scope='col'>p90 wait</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>"
        )
    return "".join(parts) or "<p>No referral waited at an element in the period.</p>"


STYLE = """
body{font-family:system-ui,sans-serif;color:#1d1d1d;margin:0;background:#fafafa}
main{max-width:1100px;margin:auto;padding:1.5rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5rem 0;background:#fff}
th,td{border:1px solid #ddd;padding:.35rem .6rem;text-align:left;vertical-align:top}
.overview th{background:#f0f0f0}.small,.ci{color:#555;font-size:.85em}
.warning{background:#fff3cd;padding:.5rem;border:1px solid #e0c060}
figure{display:inline-block;margin:.5rem}figcaption{text-align:center;font-size:.9em}
svg text{font-family:system-ui,sans-serif;font-size:11px;fill:#1d1d1d}
"""
