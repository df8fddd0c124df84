"""A backup that was altered, damaged or sealed under another key never restores quietly:
checksums catch changed bytes before anything is opened, and the key id names a wrong key."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from services.backup import base, logical, wal
from services.backup.artefacts import open_artefact
from services.backup.catalog import Catalog
from services.backup.crypto import IntegrityError, SealingWriter, WrongKeyError, open_frames
from services.backup.keys import key_id, new_key_text, parse_key
from services.backup.server import PgServer
from services.stack.embedded import free_port
from tests.backup.conftest import BackedUp


def copy_root(backed_up: BackedUp, tmp_path: Path) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(backed_up.root, root)
    return root


def flip_byte(path: Path, offset_from_end: int = 100) -> None:
    with open(path, "r+b") as f:
        f.seek(-offset_from_end, os.SEEK_END)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0x01]))


def cli(root: Path, key_text: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "BACKUP_DIR": str(root),
        "BACKUP_ENCRYPTION_KEY": key_text,
        "BACKUP_ENVIRONMENT": "production",
    }
    return subprocess.run(
        [sys.executable, "-m", "services.backup", *args],
        capture_output=True, text=True, env=env, timeout=240, check=False,
    )  # fmt: skip


def test_a_tampered_base_backup_fails_its_checksum_on_restore(
    backed_up: BackedUp, tmp_path: Path, servers: list[PgServer]
) -> None:
    root = copy_root(backed_up, tmp_path)
    backup = Catalog(root).get(backed_up.base.id)
    flip_byte(root / backup.artefacts[0].name)
    target = tmp_path / "restored"
    with pytest.raises(IntegrityError, match="fails its SHA-256 checksum"):
        base.restore(root, backed_up.key, backup, target, free_port(), archive=None)
    # Nothing was extracted from the forged artefact.
    assert not target.exists() or not any(target.iterdir())

    result = cli(root, backed_up.key_text, "restore", "--to", str(tmp_path / "cli"))
    assert result.returncode == 1
    assert "fails its SHA-256 checksum" in result.stderr
    verify = cli(root, backed_up.key_text, "verify")
    assert verify.returncode == 1
    assert backed_up.base.id in verify.stderr


def test_a_tampered_dump_fails_before_pg_restore_sees_it(
    backed_up: BackedUp, tmp_path: Path
) -> None:
    root = copy_root(backed_up, tmp_path)
    dump = next(a for a in backed_up.logical.artefacts if a.database == "mtd_audit")
    flip_byte(root / dump.name, offset_from_end=dump.bytes // 2)
    with pytest.raises(IntegrityError, match="checksum"):
        logical.restore(root, backed_up.key, backed_up.logical, "mtd_audit", backed_up.site.conn)


def test_a_forged_artefact_with_a_matching_checksum_fails_authentication(
    backed_up: BackedUp, tmp_path: Path
) -> None:
    # Someone who can rewrite the catalog too: the checksum matches, GCM still refuses.
    root = copy_root(backed_up, tmp_path)
    artefact = backed_up.base.artefacts[0]
    flip_byte(root / artefact.name)
    from services.backup.crypto import file_sha256

    forged = type(artefact)(**{**artefact.__dict__, "sha256": file_sha256(root / artefact.name)})
    with pytest.raises(IntegrityError, match="fails authentication"):
        for _ in open_artefact(backed_up.key, root, forged):
            pass


def test_a_tampered_wal_file_stops_recovery(backed_up: BackedUp, tmp_path: Path) -> None:
    root = copy_root(backed_up, tmp_path)
    sealed = sorted((root / "wal").glob("*.enc"))[0]
    flip_byte(sealed)
    name = sealed.name.removesuffix(".enc")
    with pytest.raises(IntegrityError, match="checksum"):
        wal.fetch(name, tmp_path / name, root / "wal", backed_up.key)
    staged = tmp_path / "staged"
    staged.mkdir()
    with pytest.raises(IntegrityError):
        wal.stage(root / "wal", backed_up.key, staged, None)
    # As restore_command, it exits above 125 so PostgreSQL aborts instead of promoting.
    key_file = tmp_path / "key"
    key_file.write_text(backed_up.key_text)
    code = wal.main(
        ["fetch", "--archive", str(root / "wal"), "--key-file", str(key_file), name,
         str(tmp_path / "out")]
    )  # fmt: skip
    assert code == wal.FETCH_FAILED > 125


def test_a_wrong_key_fails_clearly(
    backed_up: BackedUp, tmp_path: Path, servers: list[PgServer]
) -> None:
    other_text = new_key_text()
    other = parse_key(other_text)
    with pytest.raises(WrongKeyError) as caught:
        base.restore(
            backed_up.root, other, backed_up.base, tmp_path / "r", free_port(), archive=None
        )
    message = str(caught.value)
    assert key_id(backed_up.key).hex() in message
    assert key_id(other).hex() in message
    # The message names keys by id only; no key material anywhere.
    assert other_text not in message and backed_up.key_text not in message

    result = cli(backed_up.root, other_text, "restore", "--to", str(tmp_path / "cli"))
    assert result.returncode == 1
    assert "sealed with backup key" in result.stderr
    assert other_text not in result.stderr + result.stdout
    deep = cli(backed_up.root, other_text, "verify", "--deep")
    assert deep.returncode == 1
    shallow = cli(backed_up.root, other_text, "verify")
    assert shallow.returncode == 0, "checksums alone do not need the key"


def test_sealed_streams_refuse_truncation_and_reordering() -> None:
    key = parse_key(new_key_text())
    buffer = io.BytesIO()
    writer = SealingWriter(key, buffer, level=0)
    data = os.urandom(3 * (1 << 20) + 123)  # several frames, incompressible
    writer.write(data)
    writer.close()
    sealed = buffer.getvalue()
    assert b"".join(open_frames(key, io.BytesIO(sealed))) == data

    truncated = sealed[: len(sealed) // 2]
    with pytest.raises(IntegrityError):
        b"".join(open_frames(key, io.BytesIO(truncated)))
    # Drop the last frame: the stream then ends without a final frame.
    header = 8 + 8 + 7
    frames, offset = [], header
    while offset < len(sealed):
        length = int.from_bytes(sealed[offset : offset + 4], "big")
        frames.append(sealed[offset : offset + 4 + length])
        offset += 4 + length
    assert len(frames) >= 3
    with pytest.raises(IntegrityError):
        b"".join(open_frames(key, io.BytesIO(sealed[:header] + b"".join(frames[:-1]))))
    swapped = sealed[:header] + frames[1] + frames[0] + b"".join(frames[2:])
    with pytest.raises(IntegrityError):
        b"".join(open_frames(key, io.BytesIO(swapped)))
