"""Reading Prometheus text exposition in tests."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, str], float]


def _key(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def parse(text: str) -> Samples:
    """{(sample name, "label=value,…"): value} for every sample in `text`."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, _key(sample.labels))] = float(sample.value)
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when none)."""
    return sum(
        v
        for (n, key), v in samples.items()
        if n == name and all(f"{k}={want}" in key.split(",") for k, want in labels.items())
    )


def names(samples: Samples) -> set[str]:
    return {n for n, _ in samples}
