"""One typed settings object for the backend: defaults < TOML file < environment < command line."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "ota-desktop"


class ConfigError(ValueError):
    pass


@dataclass
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    http_port: int = 7777
    database_url: str = ""  # empty: SQLite in the data dir
    admin_token: str = ""  # empty: generated on first start and kept
    public_base_url: str = ""  # base URL devices use; empty: URLs stay relative
    # object storage: empty endpoint = embedded nanio on a loopback port
    storage_endpoint: str = ""
    storage_region: str = "us-east-1"
    storage_access_key: str = ""
    storage_secret_key: str = ""
    storage_port: int = 0
    # MQTT: empty url = embedded Mosquitto
    mqtt_url: str = ""
    mqtt_port: int = 1883
    mqtt_ca_file: str = ""
    lan: bool = False  # embedded broker / HTTP listen beyond loopback
    # TLS: HTTPS (and MQTT over TLS on the embedded broker) with these files, or with a
    # self-signed certificate generated into <data_dir>/tls when they are empty
    tls: bool = False
    tls_cert_file: str = ""
    tls_key_file: str = ""
    mqtt_tls_port: int = 8883  # the embedded broker's TLS listener, with tls
    # length of a protocol "minute" in seconds; only tests and demos change it
    minute_seconds: float = 60.0
    temp_object_max_age_s: int = 86400
    # the object proxy gives up on a store that sends nothing for this long (504 before any byte)
    proxy_read_timeout_s: float = 30.0
    # health: the data dir's file system is unhealthy with less free space than this
    min_free_disk_bytes: int = 512 * 1024 * 1024
    # the embedded store's temp files (of writes a crash or kill interrupted) go after this age
    store_tmp_max_age_s: int = 600
    events_buffer: int = 50_000  # events a reconnecting client can catch up on
    # request limits of the management API (the presigned object routes stream and have none)
    max_body_bytes: int = 32 * 1024 * 1024  # 100,000 devices in one JSON import fit
    max_header_bytes: int = 16 * 1024
    log_level: str = "info"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "ota.db"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def bind_host(self) -> str:
        return "0.0.0.0" if self.lan and self.host in ("127.0.0.1", "localhost") else self.host

    def validate(self) -> None:
        for name in ("http_port", "storage_port", "mqtt_port", "mqtt_tls_port"):
            v = getattr(self, name)
            if not 0 <= v <= 65535:
                raise ConfigError(f"{name}: must be 0..65535, got {v}")
        if self.minute_seconds <= 0:
            raise ConfigError("minute_seconds: must be positive")
        if self.proxy_read_timeout_s <= 0:
            raise ConfigError("proxy_read_timeout_s: must be positive")
        if self.min_free_disk_bytes < 0 or self.store_tmp_max_age_s < 0:
            raise ConfigError("min_free_disk_bytes/store_tmp_max_age_s: must not be negative")
        if self.storage_endpoint and not (self.storage_access_key and self.storage_secret_key):
            raise ConfigError("storage_access_key/storage_secret_key: required with an external storage_endpoint")
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ConfigError("tls_cert_file/tls_key_file: give both or neither")
        if (self.tls_cert_file or self.tls_key_file) and not self.tls:
            raise ConfigError("tls_cert_file/tls_key_file: given without tls (add --tls)")
        for name in ("max_body_bytes", "max_header_bytes"):
            if getattr(self, name) < 1024:
                raise ConfigError(f"{name}: must be at least 1024, got {getattr(self, name)}")
        if not _is_loopback(self.bind_host):
            problem = lan_token_problem(self.admin_token)
            if problem:
                raise ConfigError(f"admin_token: listening beyond loopback (--lan) requires {problem}")


#: an admin token that guards a LAN-facing backend
LAN_TOKEN_MIN_LENGTH = 24


def lan_token_problem(token: str) -> str:
    """What is wrong with ``token`` as the admin token of a LAN-facing backend ("" when fine).

    At least 24 characters that look random: not one repeated character or a short cycle
    ("abcabc..."), at least 10 distinct characters. Generate one with
    ``python3 -c 'import secrets; print(secrets.token_urlsafe(32))'``.
    """
    if not token:
        return "an explicit admin token (OTA_ADMIN_TOKEN), at least 24 random characters"
    if len(token) < LAN_TOKEN_MIN_LENGTH:
        return f"an admin token of at least {LAN_TOKEN_MIN_LENGTH} characters (got {len(token)})"
    if len(set(token)) < 10:
        return "an admin token that looks random (at least 10 different characters)"
    return ""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


ENV_PREFIX = "OTA_"


def _coerce(name: str, raw: object) -> object:
    ftype = {f.name: f.type for f in dataclasses.fields(Settings)}[name]
    try:
        if ftype in ("int", int):
            return int(raw)  # type: ignore[arg-type]
        if ftype in ("float", float):
            return float(raw)  # type: ignore[arg-type]
        if ftype in ("bool", bool):
            if isinstance(raw, bool):
                return raw
            return str(raw).strip().lower() in ("1", "true", "yes", "on")
        if ftype in ("Path", Path):
            return Path(str(raw)).expanduser()
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: {exc}") from None


def load_settings(config_file: str | os.PathLike | None = None, overrides: dict | None = None,
                  environ: dict | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    names = {f.name for f in dataclasses.fields(Settings)}
    config_file = config_file or environ.get(ENV_PREFIX + "CONFIG")
    if config_file:
        try:
            with open(config_file, "rb") as fh:
                doc = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config: cannot read {config_file}: {exc}") from None
        doc = doc.get("backend", doc)
        for key, val in doc.items():
            key = key.replace("-", "_")
            if key not in names:
                raise ConfigError(f"{key}: unknown setting in {config_file}")
            values[key] = _coerce(key, val)
    for name in names:
        env = environ.get(ENV_PREFIX + name.upper())
        if env is not None and env != "":
            values[name] = _coerce(name, env)
    for key, val in (overrides or {}).items():
        if val is not None:
            values[key] = _coerce(key, val)
    settings = Settings(**values)  # type: ignore[arg-type]
    settings.validate()
    return settings
