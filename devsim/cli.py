"""``ota-devsim``: run a simulated device fleet against a backend and a broker."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence

from . import behaviour as B
from .credentials import (
    BackendError,
    Credential,
    device_names,
    fetch_from_backend,
    load_credentials,
    provisioned_endpoints,
)
from .fleet import Fleet, SimOptions

DEFAULT_BASE_URL = "http://127.0.0.1:7777"
DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ota-devsim",
        description="Simulate a fleet of OTA devices (device side of the iThings OTA protocol) in one process.",
        epilog="Behaviours: "
        + "; ".join(f"{k}: {v}" for k, v in B.KINDS.items())
        + ". Add -once (fail-flash-once, silent-once, ...) to misbehave on the first push only."
        + " --version prints the program's version.",
    )
    g = p.add_argument_group("where")
    g.add_argument("--base-url", help=f"backend base URL (default: the --credentials file's baseUrl, else {DEFAULT_BASE_URL})")
    g.add_argument(
        "--mqtt-url",
        help="broker, mqtt://[user:pass@]host:port; user/pass are used only with --shared-connections "
        f"(default: the --credentials file's mqttHost/mqttPort, else {DEFAULT_MQTT_URL})",
    )
    g = p.add_argument_group("which devices")
    g.add_argument("--product", help="productID")
    g.add_argument("--count", type=int, help="number of devices")
    g.add_argument("--prefix", default="dev", help="device names are PREFIX00001.. (default %(default)s)")
    g.add_argument("--start-version", dest="fw_version", default="0.9.0", metavar="VERSION",
                   help="firmware version the devices start on (default %(default)s)")
    g.add_argument("--token", help="admin token (iThings-token header) for fetching device secrets; "
                   "visible to other users in the process list: prefer OTA_ADMIN_TOKEN or --token-file")
    g.add_argument("--token-file", metavar="FILE", help="read the admin token from FILE (first line)")
    g.add_argument("--create", action="store_true", help="import devices that do not exist yet")
    g.add_argument("--credentials", metavar="FILE", help="CSV productID,deviceName,deviceSecret (or OTA Desktop's provisioning export, "
                   "CSV or JSON) instead of the API")
    g.add_argument("--no-auth", action="store_true", help="connect without passwords (broker allows anonymous)")
    g = p.add_argument_group("behaviour")
    g.add_argument("--behaviour", "--behavior", dest="mix", metavar="MIX", help="e.g. succeed=90,fail-download=5,silent=5")
    g.add_argument(
        "--device-behaviour",
        "--device-behavior",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=BEHAVIOUR",
        help="behaviour of one device (repeatable)",
    )
    g.add_argument("--fail-once", action="store_true", help="failing behaviours fail on the first push only")
    g.add_argument("--seed", type=int, default=0, help="seed of the behaviour assignment (default %(default)s)")
    g.add_argument("--flash-seconds", type=float, default=0.5, help="simulated flashing time (default %(default)s)")
    g.add_argument("--reconnect-delay", type=float, default=1.0, help="seconds before reconnecting (default %(default)s)")
    g = p.add_argument_group("scale")
    g.add_argument(
        "--shared-connections",
        type=int,
        default=0,
        metavar="K",
        help="multiplex devices over K connections with the --mqtt-url account (default: one per device)",
    )
    g.add_argument("--download-workers", type=int, default=16, help="concurrent downloads (default %(default)s)")
    g.add_argument("--connect-concurrency", type=int, default=64, help="handshakes in flight (default %(default)s)")
    g = p.add_argument_group("run")
    stop = g.add_mutually_exclusive_group()
    stop.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    stop.add_argument(
        "--until-idle", type=float, metavar="SECONDS", help="stop once no message came or went and no upgrade ran for this long"
    )
    g.add_argument("--status-interval", type=float, default=5.0, help="seconds between status lines, 0 = none")
    g.add_argument("--json-summary", action="store_true", help="print the final summary as JSON")
    g.add_argument("--log-level", default="WARNING")
    # --version prints the program's version; "--version X" (the start version, as before
    # --start-version existed) still works for old scripts and says so on stderr.
    p.add_argument("--version", dest="legacy_version", nargs="?", const=_PRINT_VERSION,
                   help=argparse.SUPPRESS)
    return p


_PRINT_VERSION = object()


def _credentials(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[Credential]:
    if args.credentials:
        creds = load_credentials(args.credentials)
        if args.product:
            creds = [c for c in creds if c.product_id == args.product]
        if args.count is not None:
            creds = creds[: args.count]
        if not creds:
            parser.error(f"{args.credentials}: no devices")
        return creds
    if not args.product or args.count is None:
        parser.error("--product and --count are required (or --credentials FILE)")
    if args.count < 1:
        parser.error("--count must be at least 1")
    names = device_names(args.prefix, args.count)
    if args.no_auth:
        return [Credential(args.product, n, None) for n in names]
    return fetch_from_backend(args.base_url, admin_token(args), args.product, names, args.fw_version,
                              create=args.create)


def fill_endpoints(args: argparse.Namespace) -> None:
    """--base-url / --mqtt-url not given: take them from a provisioning export, else the defaults."""
    file_base, file_mqtt = (None, None)
    if args.credentials and (args.base_url is None or args.mqtt_url is None):
        try:
            file_base, file_mqtt = provisioned_endpoints(args.credentials)
        except (OSError, ValueError):
            pass  # reading the credentials reports the problem
    args.base_url = args.base_url or file_base or DEFAULT_BASE_URL
    args.mqtt_url = args.mqtt_url or file_mqtt or DEFAULT_MQTT_URL


def admin_token(args: argparse.Namespace) -> str | None:
    """--token, else --token-file, else the OTA_ADMIN_TOKEN environment variable."""
    if args.token:
        return args.token
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as fh:
            return fh.readline().strip() or None
    return os.environ.get("OTA_ADMIN_TOKEN") or None


def _status_line(s: dict) -> str:
    return (
        f"[{s['elapsed_s']:7.1f}s] connected {s['connected']}/{s['devices']}  pushed {s['pushed']}  "
        f"downloading {s['downloading']}  flashing {s['flashing']}  succeeded {s['succeeded']}  "
        f"failed {s['failed']}  silent {s['silent']}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    fill_endpoints(args)
    if args.legacy_version is _PRINT_VERSION:
        from ota_protocol import __version__  # the product's one version

        print(f"ota-devsim {__version__}")
        return 0
    if args.legacy_version is not None:
        print("ota-devsim: '--version VERSION' is now '--start-version VERSION'", file=sys.stderr)
        args.fw_version = args.legacy_version
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        mix = B.parse_mix(args.mix) if args.mix else None
        overrides = {}
        for item in args.overrides:
            name, sep, beh = item.partition("=")
            if not sep:
                parser.error(f"--device-behaviour {item!r} is not NAME=BEHAVIOUR")
            B.Behaviour.parse(beh)
            overrides[name.strip()] = beh.strip()
    except ValueError as exc:
        parser.error(str(exc))
    try:
        creds = _credentials(args, parser)
    except (BackendError, OSError, ValueError) as exc:
        print(f"ota-devsim: {exc}", file=sys.stderr)
        return 2
    options = SimOptions(
        flash_seconds=args.flash_seconds,
        reconnect_delay=args.reconnect_delay,
        download_workers=args.download_workers,
        connect_concurrency=args.connect_concurrency,
    )
    try:
        fleet = Fleet(
            creds,
            version=args.fw_version,
            mqtt_url=args.mqtt_url,
            base_url=args.base_url,
            mix=mix,
            behaviours=overrides,
            seed=args.seed,
            fail_once=args.fail_once,
            shared_connections=args.shared_connections,
            options=options,
        )
    except ValueError as exc:
        print(f"ota-devsim: {exc}", file=sys.stderr)
        return 2

    done = threading.Event()

    def _on_signal(_sig: int, _frame: object) -> None:
        done.set()

    old_handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            old_handlers[sig] = signal.signal(sig, _on_signal)
    fleet.start()
    start = time.monotonic()
    next_status = start + args.status_interval if args.status_interval > 0 else float("inf")
    try:
        while not done.is_set():
            now = time.monotonic()
            if args.duration is not None and now - start >= args.duration:
                break
            if args.until_idle is not None and not fleet.busy and now - fleet.last_activity >= args.until_idle:
                break
            if now >= next_status:
                print(fleet.status_line(), file=sys.stderr, flush=True)
                next_status = now + args.status_interval
            done.wait(0.1)
        summary = fleet.summary()  # before the disconnects of stop()
    finally:
        fleet.stop()
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)
    if args.json_summary:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(_status_line(summary))
        for key in ("all_connected_after_s", "pushes", "fail_steps", "by_behaviour", "files_verified", "files_resumed",
                    "connection_errors", "max_rss_mib"):
            print(f"  {key}: {summary[key]}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
