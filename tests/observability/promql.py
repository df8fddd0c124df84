"""Metric names referenced by a PromQL expression (enough PromQL to read our own rules and
dashboards; syntax itself is promtool's job)."""

from __future__ import annotations

import re

# Words PromQL reserves that look like metric names.
KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"offset", "bool", "inf", "nan", "atan2", "start", "end"}
)
# Series Prometheus makes itself.
BUILTIN_SERIES = frozenset(
    {"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds", "scrape_samples_scraped"}
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_OFFSET = re.compile(r"\boffset\s+-?[\w.]+")
_NAME = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGE.sub("", text)
    text = _GROUPING.sub("", text)
    text = _OFFSET.sub("", text)
    names = set()
    for match in _NAME.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in KEYWORDS:
            continue  # a function or aggregation, or a keyword
        names.add(name)
    return names


def exposed_names(registry_entries: dict[str, dict[str, object]]) -> set[str]:
    """Series names as Prometheus sees them: counters gain `_total`, histograms
    `_bucket`, `_sum` and `_count`, summaries `_sum` and `_count`."""
    names: set[str] = set()
    for name, entry in registry_entries.items():
        kind = entry["type"]
        if kind == "counter":
            names.add(f"{name}_total")
        elif kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        elif kind == "summary":
            names |= {name, f"{name}_sum", f"{name}_count"}
        else:
            names.add(name)
    return names


_SELECTOR = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*)\s*\{([^{}]*)\}")
_MATCHER_LABEL = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)")


def selector_labels(expr: str) -> dict[str, set[str]]:
    """`{metric: {label names its matchers use}}` for every `metric{...}` selector."""
    found: dict[str, set[str]] = {}
    for match in _SELECTOR.finditer(_STRING.sub(_keep_quotes, expr)):
        labels = set(_MATCHER_LABEL.findall(match.group(2)))
        found.setdefault(match.group(1), set()).update(labels)
    return found


def _keep_quotes(match: re.Match[str]) -> str:
    """A string literal with anything that could look like a matcher or brace removed."""
    return '"' + re.sub(r"[{}=~!,]", "_", match.group(0)[1:-1]) + '"'
