"""What a new user types first: help and version answers, with no display and no set-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def no_display_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return env


def run(*cmd: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=60, env=no_display_env(), **kw)


def test_ota_help_explains_every_subcommand_before_any_setup(tmp_path) -> None:
    # A copy of the launcher alone: no .venv beside it, so any set-up attempt would show.
    launcher = tmp_path / "ota"
    launcher.write_bytes((ROOT / "ota").read_bytes())
    launcher.chmod(0o755)
    out = run(str(launcher), "--help")
    assert out.returncode == 0, out.stderr
    for command in ("app", "backend", "devsim", "test"):
        assert f"\n  {command}" in out.stdout
    assert "docs/protocol.md" in out.stdout
    assert not (tmp_path / ".venv").exists() and out.stderr == ""


def test_ota_version_and_unknown_command(tmp_path) -> None:
    from backend import __version__

    out = run(str(ROOT / "ota"), "--version")
    assert out.returncode == 0 and out.stdout.strip() == f"ota-desktop {__version__}"
    bad = run(str(ROOT / "ota"), "lanch")
    assert bad.returncode == 2 and "unknown command 'lanch'" in bad.stderr


def test_desktop_help_and_version_need_no_display() -> None:
    from backend import __version__

    exe = BIN / "ota-desktop"
    version = run(str(exe), "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"ota-desktop {__version__}", version.stderr
    helped = run(str(exe), "--help")
    assert helped.returncode == 0 and "usage: ota-desktop" in helped.stdout and "ota-backend" in helped.stdout


def test_devsim_version_is_the_programs_and_start_version_has_its_own_flag() -> None:
    from backend import __version__
    from devsim.cli import build_parser

    out = run(str(BIN / "ota-devsim"), "--version")
    assert out.returncode == 0 and out.stdout.strip() == f"ota-devsim {__version__}"
    args = build_parser().parse_args(["--start-version", "2.0.1", "--product", "p", "--count", "1"])
    assert args.fw_version == "2.0.1"
    # the old spelling with a value still sets the start version (older scripts)
    assert build_parser().parse_args(["--version", "0.8.0"]).legacy_version == "0.8.0"


def test_devsim_takes_the_token_from_a_file_or_the_environment(tmp_path, monkeypatch) -> None:
    from devsim.cli import admin_token, build_parser

    parse = build_parser().parse_args
    monkeypatch.delenv("OTA_ADMIN_TOKEN", raising=False)
    assert admin_token(parse([])) is None
    monkeypatch.setenv("OTA_ADMIN_TOKEN", "from-env")
    assert admin_token(parse([])) == "from-env"
    f = tmp_path / "token"
    f.write_text("from-file\n")
    assert admin_token(parse(["--token-file", str(f)])) == "from-file"
    assert admin_token(parse(["--token", "from-flag", "--token-file", str(f)])) == "from-flag"


def test_devsim_takes_the_endpoints_from_a_provisioning_export(tmp_path) -> None:
    import json

    from devsim.cli import build_parser, fill_endpoints

    csv_file = tmp_path / "p.csv"
    csv_file.write_text("productID,deviceName,deviceSecret,mqttHost,mqttPort,baseUrl\n"
                        "P1,d1,s1,192.0.2.5,1884,http://192.0.2.5:7778\n")
    json_file = tmp_path / "p.json"
    json_file.write_text(json.dumps({"devices": [{"productID": "P1", "deviceName": "d1", "deviceSecret": "s1",
                                                  "mqttHost": "::1", "mqttPort": 1885, "baseUrl": "http://[::1]:7779"}]}))
    for path, mqtt, base in ((csv_file, "mqtt://192.0.2.5:1884", "http://192.0.2.5:7778"),
                             (json_file, "mqtt://[::1]:1885", "http://[::1]:7779")):
        args = build_parser().parse_args(["--credentials", str(path)])
        fill_endpoints(args)
        assert (args.mqtt_url, args.base_url) == (mqtt, base)
    # flags win over the file; no file: the documented defaults
    args = build_parser().parse_args(["--credentials", str(csv_file), "--mqtt-url", "mqtt://127.0.0.1:1999"])
    fill_endpoints(args)
    assert args.mqtt_url == "mqtt://127.0.0.1:1999" and args.base_url == "http://192.0.2.5:7778"
    args = build_parser().parse_args([])
    fill_endpoints(args)
    assert (args.mqtt_url, args.base_url) == ("mqtt://127.0.0.1:1883", "http://127.0.0.1:7777")
