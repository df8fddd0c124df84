"""The results directory: the k6 summary, the reconciliation, the comparison, plots over
time and one Markdown report that says what ran and what it showed."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from loadtests.k6run import metric, threshold_results
from loadtests.reconcile import Reconciliation
from loadtests.workload import Profile

PLOTS = {
    "arrival-rate.png": "Returns arriving at the API per second",
    "hmrc-drain-rate.png": "Returns submitted to HMRC per second (simulator's count)",
    "queue-depth.png": "Returns waiting in the submission queue",
    "latency.png": "Submit latency (ms) per 5-second window",
}


def per_second(stamps: list[float], origin: float) -> tuple[list[int], list[int]]:
    counts = Counter(int(s - origin) for s in stamps)
    if not counts:
        return [], []
    xs = list(range(min(counts), max(counts) + 1))
    return xs, [counts.get(x, 0) for x in xs]


def _save(path: Path, title: str, ylabel: str, draw: Any) -> None:
    fig, ax = plt.subplots(figsize=(9, 3.6))
    draw(ax)
    ax.set_title(title)
    ax.set_xlabel("seconds since the load started")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plots(
    out: Path,
    origin: float,
    samples: list[tuple[float, float, str]],
    submits: dict[int, int],
    queue: list[tuple[float, int]],
    limit: float,
) -> None:
    xs, ys = per_second([s[0] for s in samples], origin)
    _save(
        out / "arrival-rate.png",
        PLOTS["arrival-rate.png"],
        "returns/s",
        lambda ax: ax.step(xs, ys, where="post", label="API requests"),
    )

    def drain(ax: Any) -> None:
        seconds = sorted(submits)
        ax.bar(
            [s - origin for s in seconds],
            [submits[s] for s in seconds],
            width=1.0,
            label="HMRC submits",
        )
        ax.axhline(limit, color="red", linestyle="--", label=f"limit {limit:g}/s")

    _save(out / "hmrc-drain-rate.png", PLOTS["hmrc-drain-rate.png"], "requests/s", drain)
    _save(
        out / "queue-depth.png",
        PLOTS["queue-depth.png"],
        "returns",
        lambda ax: ax.plot([t - origin for t, _ in queue], [n for _, n in queue]),
    )

    windows: dict[int, list[float]] = defaultdict(list)
    for t, ms, _ in samples:
        windows[int((t - origin) // 5) * 5].append(ms)
    keys = sorted(windows)

    def latency(ax: Any) -> None:
        for q, style in ((0.5, "-"), (0.95, "--"), (0.99, ":")):
            ax.plot(keys, [quantile(windows[k], q) for k in keys], style, label=f"p{q * 100:g}")

    _save(out / "latency.png", PLOTS["latency.png"], "ms", latency)


def backlog_drain_rate(
    submits: dict[int, int], queue: list[tuple[float, int]], limit: float, after: float = 0.0
) -> tuple[float, float] | None:
    """HMRC submits per second while a backlog waited: from the first queue sample (after
    `after`) holding ten seconds' worth at the limit (at most 100 returns) to the last sample
    before it emptied. (rate, seconds), or None when the queue never built up."""
    deep = [t for t, n in queue if n >= min(10 * limit, 100) and t >= after]
    if not deep:
        return None
    start = int(deep[0])
    empty = [t for t, n in queue if t > start and n == 0]
    end = int(empty[0]) if empty else int(queue[-1][0])
    if end <= start:
        return None
    done = sum(n for second, n in submits.items() if start <= second < end)
    return done / (end - start), float(end - start)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)] if ordered else 0.0


def comparison_table(platform: dict[str, Any], naive: dict[str, Any] | None) -> list[str]:
    rows = [
        ("returns sent", "sent"),
        ("accepted (receipt from HMRC)", "accepted"),
        ("rejected (invalid, told at once or by HMRC)", "rejected"),
        ("answered otherwise than expected (5xx, or a race lost)", "errors"),
        ("valid returns not filed when the run ended", "not_filed"),
        ("lost (accepted with a 202, never filed)", "lost"),
        ("duplicated (sent again after HMRC stored it)", "duplicated"),
        ("429s received from HMRC", "throttled"),
        ("highest requests in one second at HMRC", "peak_per_second"),
        ("time to drain (s)", "drain_seconds"),
    ]
    lines = ["| | platform | hmrclib direct |", "|---|---:|---:|"]
    for label, key in rows:
        a = platform.get(key)
        b = naive.get(key) if naive else None
        lines.append(f"| {label} | {fmt(a)} | {fmt(b)} |")
    return lines


def fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def write(
    out: Path,
    *,
    p: Profile,
    command: str,
    started: str,
    machine: str,
    k6_exit: int,
    summary: dict[str, Any],
    result: Reconciliation,
    platform_row: dict[str, Any],
    naive_row: dict[str, Any] | None,
    setup: dict[str, Any],
    backlog_rate: tuple[float, float] | None,
    drain_only_rate: tuple[float, float] | None,
) -> Path:
    (out / "reconciliation.json").write_text(json.dumps(result.as_dict(), indent=2, default=str))
    (out / "comparison.json").write_text(
        json.dumps({"platform": platform_row, "hmrclib": naive_row}, indent=2, default=str)
    )
    submit = "http_req_duration{endpoint:submit}"
    drain = result.drain_seconds
    drain_rate = result.accepted_with_receipt / drain if drain else 0.0
    lines = [
        f"# Load test `{p.name}` — {started}",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine}",
        "",
        "## Workload",
        "",
        f"- {p.tenants} tenants x {p.vrns_per_tenant} VRNs; {setup['obligations']} open "
        f"obligations with due dates from {setup['first_due']} to {setup['last_due']}",
        f"- {setup['items']} returns prepared ({setup['kinds']}); connection methods "
        f"{setup['methods']}",
        "- phases: "
        + ", ".join(f"{ph.name} {ph.start:g}→{ph.end:g}/s for {ph.seconds}s" for ph in p.phases),
        f"- HMRC simulator limit {p.hmrc_rate:g} requests/s per application",
        "",
        "## API (k6)",
        "",
        f"- requests: {metric(summary, 'http_reqs', 'count'):.0f}; "
        f"submit p95 {metric(summary, submit, 'p(95)'):.1f} ms, "
        f"p99 {metric(summary, submit, 'p(99)'):.1f} ms, "
        f"failed {metric(summary, 'http_req_failed{endpoint:submit}', 'rate') * 100:.2f}%; "
        f"dropped iterations {metric(summary, 'dropped_iterations', 'count'):.0f}; "
        f"k6 exit code {k6_exit}",
        "",
        "| threshold | passed |",
        "|---|---|",
        *[f"| `{k}` | {'yes' if v else 'NO'} |" for k, v in threshold_results(summary).items()],
        "",
        "## Reconciliation",
        "",
        f"**{'PASSED' if result.ok else 'FAILED'}**"
        + ("" if result.ok else ": " + "; ".join(result.failures)),
        "",
        "| check | value |",
        "|---|---:|",
        f"| returns the API accepted (202) | {result.api_accepted} |",
        f"| on record in the submission database | {result.in_database} |",
        f"| accepted by HMRC with a receipt | {result.accepted_with_receipt} |",
        f"| rejected by HMRC | {result.rejected_by_hmrc} |",
        f"| not final when the drain ended | {result.not_final} |",
        f"| stored at HMRC (one per VRN and period) | {result.stored_at_hmrc} |",
        f"| stored at HMRC more than once | {result.stored_more_than_once} |",
        f"| DUPLICATE_SUBMISSION answers | {result.duplicate_attempts} |",
        f"| 429s HMRC sent the platform | {result.throttled} |",
        f"| highest requests in one second at HMRC (limit {result.limit:g}) "
        f"| {result.peak_per_second} |",
        f"| sent before an earlier-due return already waiting | {result.order_inversions} |",
        "| the same, counting only returns that had waited over "
        + " / ".join(f"{k} s" for k in result.order_inversions_by_slack)
        + " | "
        + " / ".join(str(v) for v in result.order_inversions_by_slack.values())
        + " |",
        f"| first return to last receipt (s) | {fmt(drain)} |",
        f"| returns/s from first return to last receipt (share of the limit) "
        f"| {drain_rate:.2f} ({drain_rate / result.limit * 100:.0f}%) |",
        "| HMRC submits/s while a backlog waited (share of the limit; window) | "
        + (
            f"{backlog_rate[0]:.2f} ({backlog_rate[0] / result.limit * 100:.0f}%; "
            f"{backlog_rate[1]:.0f}s) |"
            if backlog_rate
            else "no backlog |"
        ),
        "| the same once arrivals had stopped (share of the limit; window) | "
        + (
            f"{drain_only_rate[0]:.2f} ({drain_only_rate[0] / result.limit * 100:.0f}%; "
            f"{drain_only_rate[1]:.0f}s) |"
            if drain_only_rate
            else "no backlog |"
        ),
        "",
        "## Platform versus a direct hmrclib integration",
        "",
        "The same returns at the same moments, the same simulator and limit; the direct "
        "integration has an HMRC application of its own.",
        "",
        *comparison_table(platform_row, naive_row),
        "",
        *(
            [
                "What the direct integration heard, by kind of return: "
                + ", ".join(f"{k} {n}" for k, n in sorted(naive_row["outcomes"].items()))
                + " (the simulator does not check that the period is open, so a return for "
                "a period that is not open is filed by mistake).",
                "",
            ]
            if naive_row
            else []
        ),
        "## Plots",
        "",
        *[f"![{title}]({name})" for name, title in PLOTS.items() if (out / name).exists()],
        "",
        "Files: `k6-summary.json` (k6's handleSummary), `k6-samples.csv.gz` (every sample), "
        "`reconciliation.json`, `comparison.json`, `queue-depth.json`, `hmrc-timeline.json`.",
        "",
    ]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report
