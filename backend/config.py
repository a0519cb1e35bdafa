"""One typed settings object for the backend (pydantic-settings).

Precedence: command-line flags > ``OTA_<NAME>`` environment variables > the TOML file given
with ``--config`` / ``OTA_CONFIG`` (keys at the top level or under ``[backend]``) > defaults.
Every value is checked: ``OTA_LAN=ture`` or ``OTA_HTTP_PORT=70000`` is a :class:`ConfigError`
that names the variable (or flag, or file key) and what it accepts, never a silent default.
"""

from __future__ import annotations

import contextvars
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENV_PREFIX = "OTA_"
#: the OS keyring entry (service "ota-desktop") that holds an external store's secret key
STORAGE_SECRET_KEYRING_NAME = "storage-secret-key"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "ota-desktop"


class ConfigError(ValueError):
    pass


# ---- value types --------------------------------------------------------------------------

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
BOOL_WORDS = "true, false, 1, 0, yes, no, on, off"


def _strict_bool(value: Any) -> Any:
    """Only the documented spellings: a typo such as ``ture`` is an error, not False."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError(f"not a boolean; accepted values: {BOOL_WORDS}")


def _port(value: int) -> int:
    if not 0 <= value <= 65535:
        raise ValueError("must be a port number 1..65535 (or 0: a free port is picked)")
    return value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


StrictBool = Annotated[bool, BeforeValidator(_strict_bool)]
Port = Annotated[int, AfterValidator(_port)]


# ---- the settings -------------------------------------------------------------------------

class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, case_sensitive=False, env_ignore_empty=True,
                                      extra="forbid", validate_default=True)

    data_dir: Path = Field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    http_port: Port = 7777
    database_url: str = ""  # empty: SQLite in the data dir
    admin_token: str = Field("", repr=False)  # empty: generated on first start and kept
    # the capsule signing key (Ed25519, PEM): given (the desktop passes the one it keeps), else read
    # from signing_key_file, else the OS keyring's, else one for this session only (docs/capsule.md)
    signing_key: str = Field("", repr=False)
    signing_key_file: str = ""
    public_base_url: str = ""  # base URL devices use; empty: URLs stay relative
    # object storage: empty endpoint = embedded nanio on a loopback port
    storage_endpoint: str = ""
    storage_region: str = "us-east-1"
    storage_access_key: str = ""
    # with an external endpoint and empty here: read from the OS keyring (ota-desktop/storage-secret-key)
    storage_secret_key: str = Field("", repr=False)
    storage_port: Port = 0
    # MQTT: empty url = embedded Mosquitto
    mqtt_url: str = ""
    mqtt_port: Port = 1883
    lan: StrictBool = False  # embedded broker / HTTP listen beyond loopback
    # TLS: HTTPS (and MQTT over TLS on the embedded broker) with these files, or with a
    # self-signed certificate generated into <data_dir>/tls when they are empty
    tls: StrictBool = False
    tls_cert_file: str = ""
    tls_key_file: str = ""
    mqtt_tls_port: Port = 8883  # the embedded broker's TLS listener, with tls
    # length of a protocol "minute" in seconds; only tests and demos change it
    minute_seconds: float = Field(60.0, gt=0)
    temp_object_max_age_s: int = Field(86400, gt=0)
    # the object proxy gives up on a store that sends nothing for this long (504 before any byte)
    proxy_read_timeout_s: float = Field(30.0, gt=0)
    # health: the data dir's file system is unhealthy with less free space than this
    min_free_disk_bytes: int = Field(512 * 1024 * 1024, ge=0)
    # the embedded store's temp files (of writes a crash or kill interrupted) go after this age
    store_tmp_max_age_s: int = Field(600, ge=0)
    events_buffer: int = Field(50_000, ge=1)  # events a reconnecting client can catch up on
    # request limits of the management API (the presigned object routes stream and have none)
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024)  # 100,000 devices in one JSON import fit
    max_header_bytes: int = Field(16 * 1024, ge=1024)
    log_level: Annotated[Literal["debug", "info", "warning", "error"], BeforeValidator(_lower)] = "info"

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand_data_dir(cls, value: Path) -> Path:
        return value.expanduser()

    @model_validator(mode="after")
    def _check_together(self) -> Settings:
        if self.storage_endpoint and not self.storage_secret_key:
            self.storage_secret_key = _keyring_storage_secret()
        if self.storage_endpoint and not (self.storage_access_key and self.storage_secret_key):
            raise ConfigError(_missing_storage_keys(self))
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ConfigError("tls_cert_file/tls_key_file: give both or neither")
        if (self.tls_cert_file or self.tls_key_file) and not self.tls:
            raise ConfigError("tls_cert_file/tls_key_file: given without tls (add --tls)")
        if not _is_loopback(self.bind_host):
            problem = lan_token_problem(self.admin_token)
            if problem:
                raise ConfigError(f"admin_token: listening beyond loopback (--lan) requires {problem}")
        return self

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        layers = _LAYERS.get()
        if layers is None:  # Settings() on its own: the process environment and its OTA_CONFIG file
            environ: Mapping[str, str] = os.environ
            path = _env_lookup(environ, "CONFIG")
            layers = (environ, read_config_file(path) if path else {})
        environ, file_values = layers
        # earlier wins: flags (the keyword arguments) > environment > file > the defaults above
        return init_settings, _EnvSource(settings_cls, environ), _FileSource(settings_cls, file_values)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "ota.db"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def bind_host(self) -> str:
        return "0.0.0.0" if self.lan and self.host in ("127.0.0.1", "localhost") else self.host


# ---- sources ------------------------------------------------------------------------------

#: (environment, config file values) of the load_settings call in progress
_LAYERS: contextvars.ContextVar[tuple[Mapping[str, str], dict[str, Any]] | None] = \
    contextvars.ContextVar("ota_settings_layers", default=None)


class _EnvSource(EnvSettingsSource):
    """OTA_<NAME> variables of a given mapping (os.environ, or the one load_settings was given)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {(k if self.case_sensitive else k.lower()): v for k, v in self._environ.items()
                if not (self.env_ignore_empty and v == "")}


class _FileSource(PydanticBaseSettingsSource):
    """The values read from the TOML config file."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, Any]):
        super().__init__(settings_cls)
        self.values = values

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """The settings in a TOML file: top-level keys or a ``[backend]`` table; ``-`` or ``_``."""
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config: cannot read {path}: {exc}") from None
    doc = doc.get("backend", doc)
    if not isinstance(doc, dict):
        raise ConfigError(f"config: {path}: [backend] must be a table")
    values: dict[str, Any] = {}
    for key, val in doc.items():
        name = key.replace("-", "_")
        if name not in Settings.model_fields:
            raise ConfigError(f"{key}: unknown setting in {path}")
        values[name] = val
    return values


def _env_lookup(environ: Mapping[str, str], name: str) -> str | None:
    """The non-empty value of OTA_<NAME> (any case, as the settings read it), else None."""
    wanted = (ENV_PREFIX + name).lower()
    for key, val in environ.items():
        if key.lower() == wanted and val != "":
            return val
    return None


# ---- the storage secret from the OS keyring ------------------------------------------------

def _keyring_storage_secret() -> str:
    from .keyring_store import get_secret
    return get_secret(STORAGE_SECRET_KEYRING_NAME) or ""


def _missing_storage_keys(s: Settings) -> str:
    from .keyring_store import SERVICE, os_keyring
    missing = [n for n in ("storage_access_key", "storage_secret_key") if not getattr(s, n)]
    text = (f"{'/'.join(missing)}: required with an external storage_endpoint; give "
            + ("OTA_STORAGE_ACCESS_KEY (or --storage-access-key)" if not s.storage_access_key else ""))
    if not s.storage_secret_key:
        if not s.storage_access_key:
            text += " and "
        text += (f"the secret in OTA_STORAGE_SECRET_KEY, as storage_secret_key in the --config file, or in "
                 f"the OS keyring (service {SERVICE!r}, name {STORAGE_SECRET_KEYRING_NAME!r})")
        if os_keyring() is None:
            text += "; no OS keyring is available here"
    return text


# ---- LAN exposure ---------------------------------------------------------------------------

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


# ---- loading ------------------------------------------------------------------------------

_SECRETS = ("admin_token", "signing_key", "storage_secret_key", "storage_access_key", "database_url", "mqtt_url")


def load_settings(config_file: str | os.PathLike | None = None, overrides: dict | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``overrides`` (the command-line flags) > ``environ`` (default os.environ) >
    the TOML ``config_file`` (default ``$OTA_CONFIG``) > defaults; :class:`ConfigError` names
    what is wrong and where it came from."""
    environ = os.environ if environ is None else environ
    flags = {k: v for k, v in (overrides or {}).items() if v is not None}
    config_file = config_file or _env_lookup(environ, "CONFIG")
    file_values = read_config_file(config_file) if config_file else {}
    token = _LAYERS.set((environ, file_values))
    try:
        return Settings(**flags)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, flags, environ, file_values, config_file)) from None
    finally:
        _LAYERS.reset(token)


def _explain(exc: ValidationError, flags: dict, environ: Mapping[str, str], file_values: dict,
             config_file: str | os.PathLike | None) -> str:
    problems = []
    for err in exc.errors():
        loc = err.get("loc") or ()
        name = str(loc[0]) if loc else ""
        if err["type"] == "value_error" and isinstance(err.get("ctx", {}).get("error"), ConfigError):
            problems.append(str(err["ctx"]["error"]))  # a check across settings, already explained
            continue
        if name in flags:
            where = f"--{name.replace('_', '-')} ({name})"
        elif _env_lookup(environ, name.upper()) is not None:
            where = f"{ENV_PREFIX}{name.upper()} ({name})"
        elif name in file_values:
            where = f"{name} in {config_file}"
        else:
            where = name or "settings"
        problems.append(f"{where}: {_reason(err)}"
                        + ("" if name in _SECRETS or err["type"] == "extra_forbidden" else f", got {err.get('input')!r}"))
    return "; ".join(problems)


def _reason(err: Any) -> str:  # a pydantic ErrorDetails
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "value_error":
        return str(ctx.get("error"))
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "must be a whole number"
    if kind in ("float_parsing", "float_type"):
        return "must be a number"
    if kind == "greater_than":
        return f"must be greater than {ctx['gt']}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind == "extra_forbidden":
        return "unknown setting"
    return err["msg"]
