"""The workstation's Ed25519 signing key, publisher fingerprints, signatures.

A fingerprint is ``SHA256:`` and the hex SHA-256 of the raw 32-byte public key, so anyone can
compute it with standard tools (docs/capsule.md)."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger(__name__)

#: the key's name in the OS keyring (service "ota-desktop"), as the desktop keeps it too
KEYRING_NAME = "capsule-signing-key"
#: where the key came from, as the API reports it
KEPT_IN = ("environment", "file", "keyring", "session")
MAX_PEM = 4096


class BadKey(ValueError):
    """A key that cannot be used; the message names what is wrong."""


def raw_public(pub: Ed25519PublicKey) -> bytes:
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(pub: Ed25519PublicKey) -> str:
    return "SHA256:" + hashlib.sha256(raw_public(pub)).hexdigest()


def public_pem(pub: Ed25519PublicKey) -> str:
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public(pem: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM text (SubjectPublicKeyInfo, as ``openssl pkey -pubout`` writes)."""
    if len(pem) > MAX_PEM:
        raise BadKey(f"longer than {MAX_PEM} characters; expected one PEM public key")
    try:
        key = serialization.load_pem_public_key(pem.strip().encode())
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise BadKey(f"not a PEM public key ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") \
            from None
    if not isinstance(key, Ed25519PublicKey):
        raise BadKey(f"a {type(key).__name__.lstrip('_')} key; capsules are signed with Ed25519 keys")
    return key


def verify(pub: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        pub.verify(signature, data)
        return True
    except InvalidSignature:
        return False


def private_pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def load_private(pem: str, source: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.strip().encode(), password=None)
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise BadKey(f"{source}: not an unencrypted PEM private key ({type(exc).__name__})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BadKey(f"{source}: a {type(key).__name__.lstrip('_')} key; the signing key must be Ed25519")
    return key


@dataclass(frozen=True)
class Identity:
    """This installation as a publisher: signs capsules and evidence packs."""

    key: Ed25519PrivateKey
    kept_in: str  # one of KEPT_IN

    @property
    def public(self) -> Ed25519PublicKey:
        return self.key.public_key()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public)

    @property
    def public_pem(self) -> str:
        return public_pem(self.public)

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)


def load_identity(env_pem: str = "", key_file: str = "") -> Identity:
    """The signing key: given by whoever started us (the desktop passes the one it keeps in its
    keyring as OTA_SIGNING_KEY), else a key file the administrator named, else the OS keyring's
    (generated there on first use), else a key for this session only (said in the log: its
    fingerprint changes at the next start, so stations would have to trust it again)."""
    if env_pem:
        return Identity(load_private(env_pem, "OTA_SIGNING_KEY"), "environment")
    if key_file:
        try:
            with open(key_file) as fh:
                pem = fh.read(MAX_PEM + 1)
        except OSError as exc:
            raise BadKey(f"signing_key_file: cannot read {key_file}: {exc.strerror}") from None
        if os.stat(key_file).st_mode & 0o077:
            log.warning("signing key file %s is readable by others; chmod 600 it", key_file)
        return Identity(load_private(pem, f"signing_key_file {key_file}"), "file")
    from ..keyring_store import SERVICE, os_keyring
    kr = os_keyring()
    if kr is not None:
        try:
            pem = kr.get_password(SERVICE, KEYRING_NAME)
            if not pem:
                pem = private_pem(Ed25519PrivateKey.generate())
                kr.set_password(SERVICE, KEYRING_NAME, pem)
            return Identity(load_private(pem, "the OS keyring's capsule-signing-key"), "keyring")
        except BadKey:
            raise
        except Exception as exc:  # noqa: BLE001 - an unusable keyring is said, then session-only
            log.warning("keyring unusable for the capsule signing key (%s)", exc)
    ident = Identity(Ed25519PrivateKey.generate(), "session")
    log.warning("no OS keyring: the capsule signing key (fingerprint %s) lives for this session only; "
                "stations will have to trust a new key after a restart (keep one with OTA_SIGNING_KEY_FILE)",
                ident.fingerprint)
    return ident
