"""The DR drill end to end on a small dataset: load, back up, keep writing, lose the
server, restore to a fresh one, verify counts, states and the audit chain."""

from __future__ import annotations

from pathlib import Path

from services.backup import dataset, drill
from services.backup.keys import new_key_text, parse_key


async def test_small_drill_restores_everything_that_was_backed_up(tmp_path: Path) -> None:
    report = await drill.run(
        tmp_path / "drill",
        parse_key(new_key_text()),
        returns=3000,
        write_seconds=6,
        archive_timeout=2,
    )
    assert report.problems == []
    assert report.passed
    restored, expected = report.restored, report.expected
    assert restored["returns"] == expected["returns"] == 3000
    assert restored["states"] == expected["states"]
    # Every state of the state machine is present, so the comparison means something.
    assert set(restored["states"]) == set(dataset.STATES)
    assert restored["transitions"] == expected["transitions"] > 3000
    assert restored["audit_chain_ok"] is True
    assert restored["audit_records"] == restored["transitions"]
    assert restored["audit_head_hash"] == expected["audit_head_hash"]
    # Writes that were archived before the loss came back (WAL replay, not the base alone).
    assert report.writer_commits > 0
    assert report.newest_commit_after_restore is not None
    assert report.last_commit_before_loss is not None
    assert report.newest_commit_after_restore <= report.last_commit_before_loss
    assert not (tmp_path / "drill").exists(), "the drill cleans up its scratch directory"
