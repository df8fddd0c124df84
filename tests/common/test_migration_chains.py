"""Each service's migrations form one chain: two revisions that revise the same parent
(say two changes that both took the next number) leave Alembic with two heads, and
`upgrade head` then refuses to run at all."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory

from services.common.migrations import SERVICES_WITH_DATABASE, alembic_config


@pytest.mark.parametrize("service", SERVICES_WITH_DATABASE)
def test_one_head_and_one_root(service: str) -> None:
    script = ScriptDirectory.from_config(alembic_config(service))
    assert len(script.get_heads()) == 1, (
        f"{service} has several heads {script.get_heads()}: chain the newer migration's "
        "down_revision after the other"
    )
    assert len(script.get_bases()) == 1, script.get_bases()
