"""`ota-backend` / `python -m backend`: serve the OTA API until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any

from . import __version__
from .config import ConfigError, load_settings


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ota-backend", description=(
        "The OTA Desktop backend: iThings-compatible OTA HTTP API, object storage, MQTT dispatch. "
        "Every option can also be set as OTA_<NAME> in the environment or in a TOML --config file."))
    p.add_argument("--version", action="version", version=f"ota-backend {__version__}")
    p.add_argument("--config", metavar="FILE", help="TOML file with settings (env OTA_CONFIG)")
    p.add_argument("--data-dir", help="where the database, objects and broker state live (env OTA_DATA_DIR)")
    p.add_argument("--host", help="HTTP listen address (default 127.0.0.1)")
    p.add_argument("--http-port", type=int, help="HTTP port (default 7777; 0 picks a free one)")
    p.add_argument("--database-url", help="e.g. postgresql+psycopg://user:pw@127.0.0.1/ota (default SQLite)")
    p.add_argument("--public-base-url", help="base URL put in front of file URLs pushed to devices")
    p.add_argument("--storage-endpoint", help="external S3-compatible store, e.g. http://127.0.0.1:9000")
    p.add_argument("--storage-region")
    p.add_argument("--storage-access-key")
    p.add_argument("--mqtt-url", help="external broker, mqtt://user:pass@host:1883 or mqtts://...")
    p.add_argument("--mqtt-port", type=int, help="embedded broker's port (default 1883; 0 picks a free one)")
    p.add_argument("--lan", action="store_true", default=None,
                   help="let the embedded broker and the HTTP server listen on all interfaces")
    p.add_argument("--tls", action="store_true", default=None,
                   help="serve HTTPS with --tls-cert-file/--tls-key-file, or with a self-signed certificate "
                        "generated once into DATA_DIR/tls")
    p.add_argument("--tls-cert-file", metavar="PEM", help="certificate (chain) for --tls")
    p.add_argument("--tls-key-file", metavar="PEM", help="private key for --tls")
    p.add_argument("--mqtt-tls-port", type=int, help="with --tls: the embedded broker's MQTT-over-TLS port (default 8883)")
    p.add_argument("--signing-key-file", metavar="PEM",
                   help="Ed25519 private key signing release capsules (default: the OS keyring's; docs/capsule.md)")
    p.add_argument("--minute-seconds", type=float, help=argparse.SUPPRESS)
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k not in ("config",) and v is not None}
    try:
        settings = load_settings(args.config, overrides)
    except ConfigError as exc:
        print(f"ota-backend: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from .procs import port_is_free
    from .runtime import Runtime, StartupError, data_dir_lock
    if settings.http_port and not port_is_free(settings.bind_host, settings.http_port):
        print(f"ota-backend: cannot listen on {settings.bind_host}:{settings.http_port}: the port is taken "
              "(another backend running? choose another with --http-port)", file=sys.stderr)
        return 1
    try:
        lock = data_dir_lock(settings.data_dir)
    except StartupError as exc:
        print(f"ota-backend: {exc}", file=sys.stderr)
        return 1
    runtime = Runtime(settings)
    try:
        # the HTTP app's modules load while the object store's process starts
        runtime.start(meanwhile=_import_http_app)
    except StartupError as exc:
        runtime.stop()
        print(f"ota-backend: cannot start: {exc}", file=sys.stderr)
        return 1
    try:
        return _serve(runtime)
    finally:
        runtime.stop()
        lock.close()


def _import_http_app() -> None:
    import uvicorn  # noqa: F401

    from . import app  # noqa: F401


def _exit_on_sigterm(_signum, _frame) -> None:  # noqa: ANN001
    raise SystemExit(0)


def _serve(runtime) -> int:  # noqa: ANN001
    import uvicorn

    from .app import create_app
    s = runtime.settings
    tls: dict[str, Any] = {}  # uvicorn.Config's ssl_* keyword arguments
    scheme = "http"
    if s.tls:
        from .tls import fingerprint, tls_files
        files = tls_files(s.data_dir, s.tls_cert_file, s.tls_key_file)
        tls = {"ssl_certfile": str(files.cert), "ssl_keyfile": str(files.key)}
        scheme = "https"
        logging.getLogger("backend").warning("HTTPS with %s certificate %s (SHA-256 %s)",
                                             "a self-signed" if not s.tls_cert_file else "the",
                                             files.cert, fingerprint(files.cert))
    config = uvicorn.Config(create_app(runtime), host=s.bind_host, port=s.http_port, log_level="warning",
                            access_log=False, lifespan="on", timeout_graceful_shutdown=5, **tls)

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:  # noqa: ANN001
            await super().startup(sockets)
            if self.started:
                runtime.serving()
                host, port = self.servers[0].sockets[0].getsockname()[:2]
                shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
                mqtt = runtime.mqtt_port()
                extra = f" mqtt://127.0.0.1:{mqtt}" if mqtt else ""
                if mqtt and s.tls and runtime.broker is not None:
                    extra += f" mqtts://127.0.0.1:{runtime.broker.tls_port}"
                print(f"ota-backend {__version__} ready {scheme}://{shown}:{port}{extra}", flush=True)

        async def shutdown(self, sockets=None) -> None:  # noqa: ANN001
            runtime.events.close()  # open event streams end instead of holding the shutdown up
            await super().shutdown(sockets)

    server = Server(config)
    # uvicorn re-raises the signal it caught once it has shut down; with this handler that
    # becomes SystemExit, so the caller's cleanup (broker, object store, database) still runs
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        asyncio.run(server.serve())
    except KeyboardInterrupt:
        pass
    except SystemExit:  # uvicorn exits this way when it cannot bind
        if server.started:
            raise
    if not server.started:
        print(f"ota-backend: cannot listen on {s.bind_host}:{s.http_port} (port taken?)", file=sys.stderr)
        return 1
    return 0
