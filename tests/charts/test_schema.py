"""values.schema.json rejects what must never be deployed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import pytest

from tests.charts.chart import load_values, render

BROKEN = Path(__file__).parent / "broken-values.yaml"

BAD: dict[str, dict[str, Any]] = {
    "latest-tag": {"image": {"tag": "latest"}},
    "empty-tag": {"image": {"tag": ""}},
    "bad-digest": {"image": {"digest": "sha256:abc"}},
    "privileged": {"defaults": {"securityContext": {"privileged": True}}},
    "writable-root": {"defaults": {"securityContext": {"readOnlyRootFilesystem": False}}},
    "root": {"defaults": {"podSecurityContext": {"runAsNonRoot": False}}},
    "added-capability": {
        "defaults": {"securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}}}
    },
    "one-replica": {"services": {"submission": {"replicas": 1}}},
    "hpa-min-one": {"services": {"audit": {"autoscaling": {"minReplicas": 1}}}},
    "no-memory-limit": {"defaults": {"resources": {"limits": {"memory": None}}}},
    "unknown-key": {"replicaCount": 3},
    "unknown-service-key": {"services": {"auth": {"image": "evil:latest"}}},
    "secret-as-env-name": {"services": {"auth": {"env": {"lower-case": "x"}}}},
    "bad-environment": {"environment": "staging"},
    "bad-nats-url": {"nats": {"url": "http://nats:4222"}},
    "bad-schedule": {"canary": {"schedule": "every five minutes"}},
    "no-database-secret": {"services": {"obligations": {"database": {"secretName": ""}}}},
}


@pytest.mark.parametrize("values", BAD.values(), ids=BAD.keys())
def test_schema_rejects(values: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmValuesError):
        render(values)


def test_schema_rejects_the_broken_values_file() -> None:
    values = load_values(BROKEN)
    with pytest.raises(helm.HelmValuesError) as err:
        render(values)
    message = str(err.value)
    for where in ("/image/tag", "/services/auth/replicas", "/defaults/securityContext"):
        assert where in message, where


def test_schema_accepts_the_defaults() -> None:
    assert render({}).kind("Deployment")
