"""Secrets (tokens, storage keys, broker passwords) only through the OS keyring.

When the keyring has no usable backend (headless machines get keyring's ``fail`` backend)
nothing is written anywhere: the UI must ask the user, who may choose to keep secrets in
memory for this session only (:meth:`SecretStore.use_session_only`).
"""
from __future__ import annotations

import logging

import keyring
from keyring.errors import KeyringError, NoKeyringError, PasswordDeleteError
from PySide6.QtCore import QSettings

log = logging.getLogger(__name__)

SERVICE = "ota-desktop"

ADMIN_TOKEN = "embedded-admin-token"
REMOTE_TOKEN = "remote-token"
STORAGE_SECRET_KEY = "storage-secret-key"
MQTT_PASSWORD = "mqtt-password"
DATABASE_PASSWORD = "database-password"
#: the workstation's Ed25519 key that signs release capsules and evidence (PKCS#8 PEM, unencrypted)
CAPSULE_SIGNING_KEY = "capsule-signing-key"


#: QSettings key of the user's remembered answer "no keyring: keep secrets for the session only"
#: (the choice, never a secret)
SESSION_ONLY_SETTING = "secrets/session_only_remembered"


def remembered_session_only(qsettings: QSettings | None = None) -> bool:
    qs = qsettings if qsettings is not None else QSettings()
    return bool(qs.value(SESSION_ONLY_SETTING, False, bool))


def remember_session_only(remember: bool, qsettings: QSettings | None = None) -> None:
    qs = qsettings if qsettings is not None else QSettings()
    if remember:
        qs.setValue(SESSION_ONLY_SETTING, True)
    else:
        qs.remove(SESSION_ONLY_SETTING)
    qs.sync()


class SecretsUnavailable(RuntimeError):
    """No keyring backend and the user has not chosen session-only secrets."""


def _backend_is_usable(backend: keyring.backend.KeyringBackend) -> bool:
    from keyring.backends import chainer, fail

    if isinstance(backend, fail.Keyring):
        return False
    if isinstance(backend, chainer.ChainerBackend):
        return bool(backend.backends)
    try:
        return backend.priority > 0
    except Exception:  # noqa: BLE001 - a backend whose priority check fails is not usable
        return False


class SecretStore:
    def __init__(self, service: str = SERVICE) -> None:
        self.service = service
        self._session: dict[str, str] = {}
        self._session_only = False

    # -- what holds the secrets ---------------------------------------------------------------
    @property
    def keyring_backend(self) -> keyring.backend.KeyringBackend:
        return keyring.get_keyring()

    @property
    def backend_name(self) -> str:
        backend = self.keyring_backend
        cls = type(backend)
        name = getattr(backend, "name", "") or cls.__name__
        return f"{name} ({cls.__module__}.{cls.__qualname__})"

    @property
    def friendly_name(self) -> str:
        """The keyring's name for people (e.g. "SecretService Keyring"), no module path."""
        backend = self.keyring_backend
        return str(getattr(backend, "name", "") or type(backend).__name__)

    @property
    def keyring_available(self) -> bool:
        return _backend_is_usable(self.keyring_backend)

    @property
    def session_only(self) -> bool:
        return self._session_only

    @property
    def usable(self) -> bool:
        return self._session_only or self.keyring_available

    def use_session_only(self) -> None:
        """The user's explicit choice: keep secrets in memory, lose them when the app quits."""
        self._session_only = True

    # -- access -------------------------------------------------------------------------------
    def get(self, name: str) -> str | None:
        if self._session_only:
            return self._session.get(name)
        if not self.keyring_available:
            raise SecretsUnavailable(name)
        try:
            return keyring.get_password(self.service, name)
        except NoKeyringError as exc:
            raise SecretsUnavailable(name) from exc

    def set(self, name: str, value: str) -> None:
        if not value:
            self.delete(name)
            return
        if self._session_only:
            self._session[name] = value
            return
        if not self.keyring_available:
            raise SecretsUnavailable(name)
        try:
            keyring.set_password(self.service, name, value)
        except NoKeyringError as exc:
            raise SecretsUnavailable(name) from exc

    def delete(self, name: str) -> None:
        if self._session_only:
            self._session.pop(name, None)
            return
        if not self.keyring_available:
            raise SecretsUnavailable(name)
        try:
            keyring.delete_password(self.service, name)
        except PasswordDeleteError:
            pass
        except KeyringError as exc:
            log.warning("could not delete %s from the keyring: %s", name, type(exc).__name__)

    def get_or_create(self, name: str, factory) -> str:  # noqa: ANN001
        value = self.get(name)
        if not value:
            value = factory()
            self.set(name, value)
        return value


def new_signing_key() -> str:
    """A new Ed25519 private key as unencrypted PKCS#8 PEM: the capsule signing key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def signing_key(store: SecretStore) -> str:
    """The capsule signing key kept in ``store`` (generated there on first use): in the OS keyring
    it lasts, in a session-only store it lives until the app quits (its fingerprint changes at
    the next start). Never logged."""
    return store.get_or_create(CAPSULE_SIGNING_KEY, new_signing_key)
