"""Application settings, declared once with types and defaults, stored with QSettings.

Secrets never go here: see :mod:`ota_desktop.secrets`.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

T = TypeVar("T")

EMBEDDED = "embedded"
REMOTE = "remote"
LANGUAGES = ("system", "en", "zh_CN")


def default_data_dir() -> str:
    """The same folder ``ota-backend`` uses by default: ``$XDG_DATA_HOME/ota-desktop``.

    So the app's embedded backend and ``./ota backend`` see one database and one set of
    objects. Installations from before this default keep their folder
    (``.../OTA Desktop/backend``) while it holds a database and the new one does not.
    """
    generic = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
    current = os.path.join(generic or os.path.expanduser("~/.local/share"), "ota-desktop")
    app_data = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    legacy = os.path.join(app_data, "backend") if app_data else ""
    if legacy and os.path.exists(os.path.join(legacy, "ota.db")) and not os.path.exists(os.path.join(current, "ota.db")):
        return legacy
    return current


class Setting(Generic[T]):
    """A typed key with a default (a value or a callable giving one)."""

    def __init__(self, key: str, type_: type[T], default: T | Callable[[], T]) -> None:
        self.key, self.type, self._default = key, type_, default

    def default(self) -> T:
        return self._default() if callable(self._default) else self._default

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Settings | None, owner: type) -> Any:
        if obj is None:
            return self
        return obj.get(self)

    def __set__(self, obj: Settings, value: T) -> None:
        obj.set(self, value)


class Settings:
    backend_mode = Setting("backend/mode", str, EMBEDDED)
    remote_url = Setting("backend/remote_url", str, "")
    data_dir = Setting("backend/data_dir", str, default_data_dir)
    http_port = Setting("backend/http_port", int, 0)  # 0: a free port at every start
    mqtt_port = Setting("backend/mqtt_port", int, 0)
    lan_exposure = Setting("backend/lan_exposure", bool, False)
    mqtt_url = Setting("external/mqtt_url", str, "")
    storage_url = Setting("external/storage_url", str, "")
    storage_access_key = Setting("external/storage_access_key", str, "")
    database_url = Setting("external/database_url", str, "")
    language = Setting("ui/language", str, "system")
    geometry = Setting("ui/geometry", QByteArray, QByteArray)
    window_state = Setting("ui/window_state", QByteArray, QByteArray)
    last_folder = Setting("ui/last_folder", str, "")  # where the file dialogs open

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self._qs = qsettings if qsettings is not None else QSettings()

    @classmethod
    def declared(cls) -> list[Setting]:
        return [v for v in vars(cls).values() if isinstance(v, Setting)]

    def get(self, setting: Setting[T]) -> T:
        if not self._qs.contains(setting.key):
            return setting.default()
        value = self._qs.value(setting.key, setting.default(), setting.type)
        if setting.name == "language" and value not in LANGUAGES:
            return setting.default()
        return cast(T, value)  # QSettings converted it to setting.type

    def set(self, setting: Setting[T], value: T) -> None:
        self._qs.setValue(setting.key, value)

    def sync(self) -> None:
        self._qs.sync()

    @property
    def file_name(self) -> str:
        return self._qs.fileName()
