"""Wiring: builds and supervises the database, object store, broker, MQTT link, engine and timers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from .capsule.keys import BadKey, load_identity
from .capsule.service import Capsules
from .config import Settings
from .db.models import Device
from .db.session import Database
from .event_bus import EventBus
from .keyring_store import admin_token, get_secret
from .mqtt.outbound import MqttOutbound
from .ota.catalog import Catalog
from .ota.engine import OtaEngine
from .ota.outages import BACKEND_START, OutageLog
from .storage.base import PRIVATE_BUCKET, TEMPORARY_BUCKET
from .storage.embedded import EmbeddedNanio
from .storage.s3 import S3Store

if TYPE_CHECKING:  # imported where used: the MQTT side starts only with a broker
    import httpx

    from .mqtt.broker import EmbeddedMosquitto
    from .mqtt.dispatcher import Dispatcher
    from .mqtt.link import MqttLink

log = logging.getLogger(__name__)
CLEANUP_EVERY_S = 3600


class StartupError(RuntimeError):
    """Start-up failed for a reason the user can act on; the message says what to do."""


class Runtime:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.http_client: httpx.AsyncClient | None = None  # made on the server's event loop
        self.nanio: EmbeddedNanio | None = None
        self._store_error: BaseException | None = None  # what the embedded store's start raised
        self.broker: EmbeddedMosquitto | None = None
        self.link: MqttLink | None = None
        self.dispatcher: Dispatcher | None = None
        self._stop = threading.Event()
        self._devices_dirty = threading.Event()
        self._dispatch_wanted = threading.Event()  # a task was planned: push its records now
        self._dispatcher_thread: threading.Thread | None = None
        self._timer: threading.Thread | None = None
        self.outages = OutageLog()
        from .storage.health import HealthChecks
        self.health = HealthChecks(self)  # GET /api/v1/health; also run by the timers' watcher
        # we are unavailable until the HTTP server serves (``serving``): devices failing while we
        # were down report right after the start, and a re-push before downloads work would fail too
        self.outages.begin(BACKEND_START, "starting")

    # ---- start / stop -------------------------------------------------------------------
    def serving(self) -> None:
        """The HTTP server accepts connections: downloads work, the start-up outage is over."""
        self.outages.end(BACKEND_START)

    def start(self, meanwhile: Callable[[], None] | None = None) -> None:
        """Start every part; ``meanwhile`` (cli: import the HTTP app) runs while the embedded
        object store starts, as do the admin token and the database migrations: the store is a
        child process, starting on another core while this one does the rest."""
        s = self.settings
        from .datadir import secure_data_dir
        secure_data_dir(s.data_dir)  # 0700 / 0600 (umask 077) before anything is written
        store_start = self._start_embedded_store()
        try:
            if s.admin_token:
                self.admin_token, where = s.admin_token, "OTA_ADMIN_TOKEN"
            else:
                self.admin_token, where = admin_token(s.data_dir)
            log.info("admin token: from %s", where)
            try:
                self.identity = load_identity(s.signing_key, s.signing_key_file)
            except BadKey as exc:
                raise StartupError(str(exc)) from None
            log.info("capsule signing key: %s (kept in: %s)", self.identity.fingerprint, self.identity.kept_in)
            self.db = Database(s.effective_database_url)
            try:
                self.db.migrate()
            except Exception as exc:
                raise StartupError(f"database {self._safe_db_url()}: {exc}") from exc
            if meanwhile is not None:
                meanwhile()
        finally:
            if store_start is not None:
                store_start.wait()
        self.store = self._make_store()
        self.events = EventBus(s.events_buffer)
        self.engine = OtaEngine(self.db, self._file_url, self.events, minute_seconds=s.minute_seconds,
                                outages=self.outages, on_planned=self._dispatch_wanted.set)
        self.catalog = Catalog(self.store, on_devices_changed=self._devices_dirty.set)
        from .api.capsules import check_task  # the task/create rules, for capsules' task templates
        self.capsules = Capsules(self.db, self.store, self.catalog, self.identity, check_task)
        self.capsules.forget_interrupted_imports()  # before the HTTP server takes a new one
        self._start_mqtt()
        self._timer = threading.Thread(target=self._timers, name="ota-timers", daemon=True)
        self._timer.start()
        self._dispatcher_thread = threading.Thread(target=self._dispatching, name="ota-dispatch", daemon=True)
        self._dispatcher_thread.start()
        from .storage.health import watch
        threading.Thread(target=watch, args=(self.health, self._stop), name="ota-health", daemon=True).start()
        if self.broker is not None:
            threading.Thread(target=self._sync_broker, name="ota-broker-sync", daemon=True).start()

    def _safe_db_url(self) -> str:
        from sqlalchemy.engine import make_url
        return make_url(self.settings.effective_database_url).render_as_string(hide_password=True)

    def _start_embedded_store(self) -> threading.Event | None:
        """Start the embedded object store (nanio) from a thread of its own; the event is set
        once it runs or failed (_make_store raises what the start raised). None with an
        external store. The thread lives until ``stop``: the store dies with the thread that
        started it (PR_SET_PDEATHSIG follows the thread, not the process)."""
        s = self.settings
        if s.storage_endpoint:
            return None
        import ctypes  # noqa: F401 - the store's preexec_fn uses it: imported here, not in the forked child

        self.nanio = EmbeddedNanio(s.data_dir, s.storage_port)
        self._store_error = None
        started = threading.Event()

        def start() -> None:
            try:
                assert self.nanio is not None
                self.nanio.start()
            except BaseException as exc:  # noqa: BLE001 - raised again by _make_store
                self._store_error = exc
            finally:
                started.set()
            self._stop.wait()

        threading.Thread(target=start, name="ota-store-parent", daemon=True).start()
        return started

    def _make_store(self) -> S3Store:
        s = self.settings
        if s.storage_endpoint:
            secret = s.storage_secret_key or get_secret("storage-secret-key") or ""
            store = S3Store(s.storage_endpoint, s.storage_access_key, secret, s.storage_region)
        else:
            if self.nanio is None:  # started by start(); not when a caller builds the store alone
                self.nanio = EmbeddedNanio(s.data_dir, s.storage_port)
                self.nanio.start()
            elif self._store_error is not None:
                raise self._store_error
            store = S3Store(self.nanio.endpoint_url, self.nanio.access_key, self.nanio.secret_key, s.storage_region)
            store.disk_dir = self.nanio.root  # its 5xx on a full disk are named "disk full"
        try:
            store.ensure_buckets()
        except Exception as exc:
            raise StartupError(f"object store {store.endpoint_url}: {exc}") from exc
        return store

    def _device_credentials(self) -> list:
        from .mqtt.broker import DeviceCredential
        with self.db.session() as session:
            rows = session.execute(select(Device.product_id, Device.device_name, Device.device_secret)).all()
        return [DeviceCredential(p, d, sec) for p, d, sec in rows]

    def _start_mqtt(self) -> None:
        from .mqtt.dispatcher import Dispatcher
        from .mqtt.link import MqttLink, backend_client_id
        s = self.settings
        # secret and kept: the persistent session survives restarts, no device can take it over
        client_id, new_client_id = backend_client_id(s.data_dir)
        if s.mqtt_url:
            url = s.mqtt_url
        else:
            import secrets as _secrets

            from .mqtt.broker import BrokerNotFound, EmbeddedMosquitto
            password_file = s.data_dir / "mqtt-service-password"
            password = password_file.read_text().strip() if password_file.exists() else ""
            if not password:
                password = _secrets.token_urlsafe(24)
                password_file.write_text(password)
                password_file.chmod(0o600)
            host = "0.0.0.0" if s.lan else "127.0.0.1"
            try:
                tls = None
                if s.tls:
                    from .tls import tls_files
                    files = tls_files(s.data_dir, s.tls_cert_file, s.tls_key_file)
                    tls = (files.cert, files.key)
                self.broker = EmbeddedMosquitto(s.data_dir, host=host, port=s.mqtt_port,
                                                service_user="ota-backend", service_password=password,
                                                tls=tls, tls_port=s.mqtt_tls_port)
                self.broker.start(self._device_credentials())
            except BrokerNotFound as exc:
                raise StartupError(str(exc)) from exc
            except Exception as exc:
                raise StartupError(f"embedded MQTT broker (Mosquitto) on {host}:{s.mqtt_port}: {exc}") from exc
            url = self.broker.url
        self.dispatcher = Dispatcher(self.engine.handle_messages, self._publish)
        self.dispatcher.start()
        subscriptions = [("$ota/up/#", 1)]
        if self.broker is not None:
            from .mqtt.presence import LOG_TOPIC
            subscriptions.append((LOG_TOPIC, 0))  # device connects/disconnects
            self.engine.mark_all_offline()  # a fresh broker: nobody is connected yet
        max_packet = None
        if self.broker is not None:
            from .mqtt.broker import MAX_PACKET_SIZE
            max_packet = MAX_PACKET_SIZE
        self.link = MqttLink(url, client_id=client_id, on_message=self.dispatcher.on_message,
                             subscriptions=subscriptions, max_packet_size=max_packet,
                             on_state=self._link_state if self.broker is not None else None,
                             manual_ack=True)  # acknowledged once applied: nothing acknowledged is lost
        self.engine.outbound = MqttOutbound(self.link.publish)
        self.link.start()
        if not self.link.wait_connected(15):
            log.warning("MQTT broker %s not reachable yet; will keep retrying", self._safe_mqtt_url(url))
        if new_client_id:
            threading.Thread(target=self._retire_legacy_session, args=(url,), name="ota-mqtt-legacy",
                             daemon=True).start()

    def _link_state(self, connected: bool) -> None:
        """The link subscribed (network thread): the embedded broker saves our session at once.

        Mosquitto keeps sessions in memory and saves them every ``autosave_interval`` (10 s); one
        killed before its first save came back without our session, and every device message
        published before the link had subscribed again (the devices reconnect faster than the link)
        matched no subscription and was dropped, though the broker had acknowledged it to the
        device: a fleet stuck at "flashing" for good. Saved now, the restarted broker queues them.
        """
        if connected and self.broker is not None:
            try:
                self.broker.save_sessions()
            except Exception:  # best effort: the autosave follows anyway
                log.warning("could not have the MQTT broker save the sessions", exc_info=True)

    def _retire_legacy_session(self, url: str) -> None:
        """Once, after the switch to a secret client id: messages the broker kept for the old
        fixed id ``ota-backend`` are applied, then that session is removed."""
        from .mqtt.link import LEGACY_CLIENT_ID, MqttLink, clear_session
        dispatcher = self.dispatcher
        assert dispatcher is not None  # started before this thread
        try:
            legacy = MqttLink(url, LEGACY_CLIENT_ID, dispatcher.on_message, subscriptions=())
            legacy.start()
            try:
                if legacy.wait_connected(5):
                    self._stop.wait(2)  # queued messages arrive right after the CONNACK
            finally:
                legacy.stop()
            if clear_session(url, LEGACY_CLIENT_ID):
                log.info("MQTT: the old client id %s holds no session any more", LEGACY_CLIENT_ID)
        except Exception:
            log.warning("MQTT: could not retire the old session %s", LEGACY_CLIENT_ID, exc_info=True)

    @staticmethod
    def _safe_mqtt_url(url: str) -> str:
        from urllib.parse import urlsplit
        p = urlsplit(url)
        return f"{p.scheme}://{p.hostname}:{p.port}"

    def _file_url(self, object_key: str) -> str:
        """A fresh presigned download URL of a firmware file (absolute with --public-base-url)."""
        url = self.store.presign("GET", PRIVATE_BUCKET, object_key)
        base = self.settings.public_base_url.rstrip("/")
        return base + url if base else url

    def _publish(self, topic: str, payload: bytes) -> None:
        if self.link is not None:
            self.link.publish(topic, payload)

    def mqtt_port(self) -> int | None:
        return self.broker.port if self.broker is not None else None

    def stop(self) -> None:
        self._stop.set()
        self._dispatch_wanted.set()
        if self._timer is not None:
            self._timer.join(5)
        if self._dispatcher_thread is not None:
            self._dispatcher_thread.join(5)
        # Drain: take no new device messages (unacknowledged, the broker keeps them for the next
        # run), apply everything queued (acknowledgements and answers go out on the still-open
        # link), then close the link.
        if self.link is not None:
            self.link.pause()
        if self.dispatcher is not None:
            self.dispatcher.stop()
        if self.link is not None:
            self.link.stop()
        if self.broker is not None:
            self.broker.stop()
        if self.nanio is not None:
            self.nanio.stop()
        if getattr(self, "db", None) is not None:
            self.db.dispose()

    # ---- timers -------------------------------------------------------------------------
    def _dispatching(self) -> None:
        """Push a planned task's records as soon as task/create has answered (the timers push
        what becomes due later)."""
        while not self._stop.is_set():
            if not self._dispatch_wanted.wait(1.0):
                continue
            self._dispatch_wanted.clear()
            if self._stop.is_set():
                return
            try:
                self.engine.dispatch()
            except Exception:
                log.exception("dispatching a planned task failed; the timers retry")

    def _timers(self) -> None:
        tick_s = max(0.05, min(1.0, self.settings.minute_seconds / 30))
        last_supervise = 0.0
        last_cleanup = float("-inf")  # first pass right after start
        last_tmp_cleanup = time.monotonic()  # the store's start removed them all
        while not self._stop.wait(tick_s):
            try:
                self.engine.tick()
            except Exception:
                log.exception("timer tick failed")
            now = time.monotonic()
            if now - last_supervise >= 2:
                last_supervise = now
                self._supervise()
            if now - last_cleanup >= min(CLEANUP_EVERY_S, self.settings.temp_object_max_age_s / 2):
                last_cleanup = now
                try:
                    n = self.store.remove_older_than(TEMPORARY_BUCKET, self.settings.temp_object_max_age_s)
                    if n:
                        log.info("removed %d unclaimed uploads older than %ss", n,
                                 self.settings.temp_object_max_age_s)
                except Exception:
                    log.exception("cleanup of unclaimed uploads failed")
            if self.nanio is not None and now - last_tmp_cleanup >= max(1.0, self.settings.store_tmp_max_age_s / 2):
                last_tmp_cleanup = now
                try:
                    self.nanio.remove_orphan_temp_files(self.settings.store_tmp_max_age_s)
                except Exception:
                    log.exception("cleanup of the object store's orphan temporary files failed")

    def free_unclaimed_uploads(self, older_than_s: float) -> dict:
        """Remove unclaimed uploads (and the embedded store's orphan temporary files) older than
        ``older_than_s`` now: what was freed."""
        objects, size = self.store.remove_older_than_sized(TEMPORARY_BUCKET, older_than_s)
        tmp_files = tmp_bytes = 0
        if self.nanio is not None:
            tmp_files, tmp_bytes = self.nanio.remove_orphan_temp_files(
                max(older_than_s, self.settings.store_tmp_max_age_s))
        if objects or tmp_files:
            log.info("freed %d unclaimed uploads (%d bytes) and %d orphan temporary files (%d bytes)",
                     objects, size, tmp_files, tmp_bytes)
        return {"removedObjects": objects, "freedBytes": size, "removedTempFiles": tmp_files,
                "freedTempBytes": tmp_bytes}

    def _sync_broker(self) -> None:
        """Device credentials reach the embedded broker's password/ACL files soon after a change."""
        broker = self.broker
        assert broker is not None  # this thread runs only with the embedded broker
        while not self._stop.is_set():
            if not self._devices_dirty.wait(0.5):
                continue
            time.sleep(0.05)  # gather a burst of changes into one reload
            self._devices_dirty.clear()
            try:
                broker.update_devices(self._device_credentials())
            except Exception:
                log.exception("could not update the broker's device list")
                self._devices_dirty.set()
                self._stop.wait(2)

    def _supervise(self) -> None:
        for name, part in (("object store", self.nanio), ("MQTT broker", self.broker)):
            if part is None:
                continue
            try:
                part.ensure_running()
            except Exception:
                log.exception("could not restart the %s", name)


def data_dir_lock(data_dir: Path):  # noqa: ANN201
    """One backend per data directory: an advisory lock held for the process's life."""
    import fcntl
    data_dir.mkdir(parents=True, exist_ok=True)
    fh = open(data_dir / "backend.lock", "w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise StartupError(f"another backend is already using the data directory {data_dir}") from None
    return fh
