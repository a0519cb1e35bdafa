"""backend.config in-process: flags > environment > config file > defaults, strict values with
errors that name the variable, and the storage secret from the OS keyring (a real keyring backend
installed with keyring.set_keyring, nothing of ours replaced)."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from backend.cli import main
from backend.config import ConfigError, Settings, load_settings

from ._keyring import InMemoryKeyring


@pytest.fixture
def memory_keyring():
    before = keyring.get_keyring()
    kr = InMemoryKeyring()
    keyring.set_keyring(kr)
    yield kr
    keyring.set_keyring(before)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "ota.toml"
    path.write_text('[backend]\nhttp_port = 1001\nmqtt-port = 1002\nlog_level = "warning"\n'
                    'storage_region = "file-region"\n')
    return path


# ---- precedence -------------------------------------------------------------------------------

def test_defaults() -> None:
    s = load_settings(environ={})
    assert (s.http_port, s.mqtt_port, s.log_level, s.storage_region, s.lan) == (7777, 1883, "info", "us-east-1", False)


def test_file_beats_defaults(config_file: Path) -> None:
    s = load_settings(config_file, environ={})
    assert (s.http_port, s.mqtt_port, s.log_level, s.storage_region) == (1001, 1002, "warning", "file-region")
    assert s.mqtt_tls_port == 8883  # not in the file: the default


def test_environment_beats_file(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTA_HTTP_PORT", "2001")
    monkeypatch.setenv("OTA_LOG_LEVEL", "error")
    monkeypatch.setenv("OTA_MQTT_PORT", "")  # empty counts as unset
    s = load_settings(config_file)
    assert (s.http_port, s.log_level, s.mqtt_port, s.storage_region) == (2001, "error", 1002, "file-region")


def test_flags_beat_environment_and_file(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTA_HTTP_PORT", "2001")
    monkeypatch.setenv("OTA_LOG_LEVEL", "error")
    monkeypatch.setenv("OTA_STORAGE_REGION", "env-region")
    s = load_settings(config_file, {"http_port": 3001, "log_level": "debug", "mqtt_port": None})
    assert (s.http_port, s.log_level) == (3001, "debug")
    assert (s.storage_region, s.mqtt_port) == ("env-region", 1002)  # no flag: env, then file


def test_config_file_from_ota_config(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTA_CONFIG", str(config_file))
    assert load_settings().http_port == 1001
    assert Settings().http_port == 1001  # the model on its own reads the same layers


def test_cli_flags_win(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from backend.cli import build_parser

    monkeypatch.setenv("OTA_HTTP_PORT", "2001")
    args = build_parser().parse_args(["--config", str(config_file), "--http-port", "3001", "--lan"])
    flags = {k: v for k, v in vars(args).items() if k != "config" and v is not None}
    monkeypatch.setenv("OTA_ADMIN_TOKEN", "Zq3-vX9_pL2mN8rT4yW6kJ1h")
    s = load_settings(args.config, flags)
    assert (s.http_port, s.mqtt_port, s.lan, s.bind_host) == (3001, 1002, True, "0.0.0.0")


@pytest.mark.parametrize("word,value", [("true", True), ("FALSE", False), ("1", True), ("0", False),
                                        ("yes", True), ("No", False), (" on ", True), ("off", False)])
def test_boolean_spellings(word: str, value: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTA_TLS", word)
    assert load_settings().tls is value


# ---- errors name the variable ------------------------------------------------------------------

def test_misspelt_boolean_is_an_error_not_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTA_LAN", "ture")
    with pytest.raises(ConfigError) as err:
        load_settings()
    text = str(err.value)
    assert "OTA_LAN" in text and "'ture'" in text
    for word in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        assert word in text


def test_misspelt_boolean_exits_2_from_the_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("OTA_LAN", "ture")
    assert main(["--http-port", "0"]) == 2
    err = capsys.readouterr().err
    assert "configuration error" in err and "OTA_LAN" in err and "on, off" in err


@pytest.mark.parametrize("var,value", [("OTA_HTTP_PORT", "70000"), ("OTA_MQTT_PORT", "-1"),
                                       ("OTA_MQTT_TLS_PORT", "65536"), ("OTA_STORAGE_PORT", "http")])
def test_bad_port_names_the_variable(var: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=var) as err:
        load_settings()
    assert repr(value) in str(err.value)


def test_bad_values_from_flags_and_file_name_their_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--http-port \(http_port\).*65535"):
        load_settings(overrides={"http_port": 99999}, environ={})
    cfg = tmp_path / "bad.toml"
    cfg.write_text('lan = "maybe"\nminute_seconds = 0\n')
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, environ={})
    assert f"lan in {cfg}" in str(err.value) and f"minute_seconds in {cfg}" in str(err.value)
    cfg.write_text("mqtt_ca_file = 'x.pem'\n")  # removed: read by nothing
    with pytest.raises(ConfigError, match="mqtt_ca_file: unknown setting"):
        load_settings(cfg, environ={})


@pytest.mark.parametrize("var,value,words", [
    ("OTA_MINUTE_SECONDS", "0", "greater than 0"), ("OTA_MAX_BODY_BYTES", "100", "at least 1024"),
    ("OTA_LOG_LEVEL", "loud", "debug"), ("OTA_EVENTS_BUFFER", "many", "whole number"),
])
def test_other_bad_values(var: str, value: str, words: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=var) as err:
        load_settings()
    assert words in str(err.value)


def test_secrets_are_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTA_STORAGE_SECRET_KEY", "do-not-print-me")
    s = load_settings()
    assert "do-not-print-me" not in repr(s)


# ---- the storage secret from the OS keyring ------------------------------------------------------

def test_storage_secret_comes_from_the_keyring(memory_keyring: InMemoryKeyring, monkeypatch: pytest.MonkeyPatch) -> None:
    memory_keyring.set_password("ota-desktop", "storage-secret-key", "from-the-keyring")
    monkeypatch.setenv("OTA_STORAGE_ENDPOINT", "http://127.0.0.1:9000")
    monkeypatch.setenv("OTA_STORAGE_ACCESS_KEY", "access")
    assert load_settings().storage_secret_key == "from-the-keyring"
    monkeypatch.setenv("OTA_STORAGE_SECRET_KEY", "from-the-env")  # the environment wins
    assert load_settings().storage_secret_key == "from-the-env"


def test_embedded_store_does_not_read_the_keyring(memory_keyring: InMemoryKeyring) -> None:
    memory_keyring.set_password("ota-desktop", "storage-secret-key", "unused")
    assert load_settings(environ={}).storage_secret_key == ""


def test_storage_secret_missing_from_the_keyring(memory_keyring: InMemoryKeyring, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTA_STORAGE_ENDPOINT", "http://127.0.0.1:9000")
    monkeypatch.setenv("OTA_STORAGE_ACCESS_KEY", "access")
    with pytest.raises(ConfigError) as err:
        load_settings()
    text = str(err.value)
    assert "OTA_STORAGE_SECRET_KEY" in text and "'storage-secret-key'" in text
    assert "no OS keyring" not in text


def test_storage_secret_without_any_keyring(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        monkeypatch.setenv("OTA_STORAGE_ENDPOINT", "http://127.0.0.1:9000")
        monkeypatch.setenv("OTA_STORAGE_ACCESS_KEY", "access")
        with pytest.raises(ConfigError, match="no OS keyring is available") as err:
            load_settings()
        assert "OTA_STORAGE_SECRET_KEY" in str(err.value)
        # the documented ways without a keyring: the environment, or the config file
        cfg = tmp_path / "ota.toml"
        cfg.write_text('storage_secret_key = "from-the-file"\n')
        assert load_settings(cfg).storage_secret_key == "from-the-file"
    finally:
        keyring.set_keyring(before)
