"""Secrets of the headless backend: the OS keyring where one exists, else a 0600 file."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
SERVICE = "ota-desktop"


def os_keyring() -> Any:  # a keyring backend (untyped)
    """The OS keyring, or None where keyring has only its "fail" backend."""
    try:
        import keyring
        from keyring.backends import fail
    except Exception:  # noqa: BLE001
        return None
    try:
        kr = keyring.get_keyring()
    except Exception:  # noqa: BLE001
        return None
    if isinstance(kr, fail.Keyring):
        return None
    return kr


def get_secret(name: str) -> str | None:
    kr = os_keyring()
    if kr is None:
        return None
    try:
        return kr.get_password(SERVICE, name)
    except Exception:  # noqa: BLE001
        return None


def admin_token(data_dir: Path) -> tuple[str, str]:
    """The kept admin token, generated on first start; and where it is kept (for the user)."""
    kr = os_keyring()
    if kr is not None:
        try:
            token = kr.get_password(SERVICE, "admin-token")
            if not token:
                token = secrets.token_urlsafe(32)
                kr.set_password(SERVICE, "admin-token", token)
            return token, f"the OS keyring ({type(kr).__module__}), service {SERVICE!r}, name 'admin-token'"
        except Exception as exc:  # noqa: BLE001
            log.warning("keyring unusable (%s); keeping the admin token in a file", exc)
    path = data_dir / "admin-token"
    try:
        token = path.read_text().strip()
    except OSError:
        token = ""
    if not token:
        token = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(token + "\n")
    os.chmod(path, 0o600)
    return token, f"the file {path} (mode 0600; no OS keyring available)"
