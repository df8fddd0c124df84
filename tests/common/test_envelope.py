"""Envelope encryption: per-value data keys, KEK ids, context binding, online re-wrap."""

from __future__ import annotations

import pytest

from services.common.envelope import Envelope, EnvelopeError, new_keyring_entry, parse_keyring


def ring(*kids: str) -> list[tuple[str, bytes]]:
    return [parse_keyring(new_keyring_entry(kid))[0] for kid in kids]


def test_rewrap_moves_the_data_key_to_the_current_kek_and_keeps_the_value() -> None:
    k1, k2 = ring("k1", "k2")
    envelope = Envelope([k1])
    stored = envelope.encrypt("refresh-token-value", "connection:1:refresh_token")
    assert envelope.key_id(stored) == "k1"
    # Step one: the new key decrypts only; new values still use k1.
    envelope.update([k1, k2], current="k1")
    assert envelope.key_id(envelope.encrypt("x", "c")) == "k1"
    # Step two: k2 is current; old values still decrypt until re-wrapped.
    envelope.update([k1, k2], current="k2")
    assert envelope.decrypt(stored, "connection:1:refresh_token") == "refresh-token-value"
    rewrapped = envelope.rewrap(stored, "connection:1:refresh_token")
    assert envelope.key_id(rewrapped) == "k2"
    # Only the wrapped data key changed: the sealed value is the same bytes.
    assert rewrapped.rsplit(":", 1)[1] == stored.rsplit(":", 1)[1]
    assert envelope.rewrap(rewrapped, "connection:1:refresh_token") == rewrapped
    # Once k1 is retired, only the re-wrapped value opens.
    envelope.update([k2])
    assert envelope.decrypt(rewrapped, "connection:1:refresh_token") == "refresh-token-value"
    with pytest.raises(EnvelopeError, match="k1 is not configured"):
        envelope.decrypt(stored, "connection:1:refresh_token")


def test_rewrap_refuses_a_value_from_another_context() -> None:
    k1, k2 = ring("k1", "k2")
    envelope = Envelope([k1])
    stored = envelope.encrypt("a@example.com", "user:1:email")
    envelope.update([k2, k1])
    with pytest.raises(EnvelopeError):
        envelope.rewrap(stored, "user:2:email")


def test_the_current_kek_must_be_in_the_ring() -> None:
    with pytest.raises(ValueError, match="not in the keyring"):
        Envelope(ring("k1"), current="k9")


def test_binary_data_keys_carry_their_kek_id_and_rewrap() -> None:
    k1, k2 = ring("k1", "k2")
    envelope = Envelope([k1])
    data_key, aad = b"d" * 32, b"row-id"
    wrapped = envelope.wrap_data_key(data_key, aad)
    assert envelope.data_key_id(wrapped) == "k1"
    envelope.update([k1, k2], current="k2")
    rewrapped = envelope.rewrap_data_key(wrapped, aad)
    assert envelope.data_key_id(rewrapped) == "k2"
    assert envelope.unwrap_data_key(rewrapped, aad) == data_key
    envelope.update([k2])
    with pytest.raises(EnvelopeError, match="k1 is not configured"):
        envelope.unwrap_data_key(wrapped, aad)
    with pytest.raises(EnvelopeError):
        envelope.unwrap_data_key(rewrapped, b"another-row")
