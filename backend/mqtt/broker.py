"""The embedded MQTT broker: Mosquitto 2.0 as a managed child process.

The backend writes Mosquitto's configuration, password file (Mosquitto 2.0's ``$7$``
PBKDF2-SHA512 format, generated here) and ACL file under ``<data_dir>/mqtt/``, starts the
broker on a loopback port, reloads it with SIGHUP when devices change and restarts it if
it dies (``ensure_running`` from a timer).

Access rules (spec section 6): the service user may read and write everything; a device
user ``{productID}&{deviceName}`` may only publish to ``$ota/up/+/{p}/{d}`` and only
receive ``$ota/down/+/{p}/{d}``. Anonymous clients are always refused. Client ids with ``&``
belong to the credential they name and ids starting with ``ota-backend`` to the service user,
enforced by the broker plugin ``ota_clientid.so`` when it is available (``plugin_build``;
``client_id_guard`` says whether it is loaded).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

__all__ = [
    "MAX_PACKET_SIZE",
    "BrokerError",
    "BrokerNotFound",
    "DeviceCredential",
    "EmbeddedMosquitto",
    "credential_problem",
    "find_mosquitto",
    "mosquitto_env",
    "password_hash",
]

from ..procs import die_with_parent, free_port
from . import broker_control
from .plugin_build import client_id_plugin

log = logging.getLogger(__name__)

#: Environment variable naming the mosquitto executable to use.
ENV_EXECUTABLE = "OTA_MOSQUITTO"
_SYSTEM_PATH = "/usr/sbin/mosquitto"
_PBKDF2_ITERATIONS = 101  # what mosquitto_passwd 2.0 writes
_SALT_BYTES = 12
_LOG_ROTATE_BYTES = 10 * 1024 * 1024
#: Largest MQTT packet (whole PUBLISH: header, topic, payload) the embedded broker accepts;
#: a client sending a larger one is disconnected and the message never reaches anyone.
#: Device messages need < 1 KiB (the backend refuses payloads above
#: ``messages.MAX_PAYLOAD_BYTES``, 16 KiB); the backend's own largest push, 20 files with
#: 512-character UTF-8 names and presigned URLs, is about 135 KB, typical pushes < 1 KB.
MAX_PACKET_SIZE = 256 * 1024
# Characters that would break a topic level, the password file (``user:hash``) or an ACL
# line; ``&`` in a productID would make ``{p}&{d}`` ambiguous.
_BAD_IN_NAME = frozenset("/+#:\x00") | {chr(c) for c in range(0x20)} | {" ", "\x7f"}


#: What mosquitto 2.0 logs when it cannot load or initialise a plugin (see EmbeddedMosquitto.start).
_PLUGIN_FAILED = re.compile(r"Error: (Unable to load (auth )?plugin|(Authentication p|P)lugin returned)"
                            r"|ota_clientid: (unknown option|invalid)")


class BrokerError(RuntimeError):
    """The embedded broker could not be started or controlled."""


class BrokerNotFound(BrokerError):
    """No mosquitto executable was found."""

    def __init__(self, detail: str = "") -> None:
        text = (
            "Mosquitto (the MQTT broker) was not found"
            + (f" ({detail})" if detail else "")
            + ": install the Debian package mosquitto: apt-get install mosquitto, "
            f"set {ENV_EXECUTABLE} to its path, "
            "or configure an external broker with --mqtt-url"
        )
        super().__init__(text)


class DeviceCredential(NamedTuple):
    product_id: str
    device_name: str
    secret: str


# --------------------------------------------------------------------------- locating


def _bundled_dir() -> Path | None:
    if getattr(sys, "frozen", False):
        return Path(sys.executable).resolve().parent / "mosquitto"
    return None


def find_mosquitto() -> str:
    """Path of the mosquitto executable.

    Order: ``$OTA_MOSQUITTO``; the copy bundled with a frozen build (``mosquitto/`` next to
    the executable); ``mosquitto`` on ``PATH``; ``/usr/sbin/mosquitto``.
    Raises ``BrokerNotFound`` with what to do.
    """
    configured = os.environ.get(ENV_EXECUTABLE)
    if configured:
        if os.path.isfile(configured) and os.access(configured, os.X_OK):
            return configured
        raise BrokerNotFound(f"{ENV_EXECUTABLE}={configured} is not an executable file")
    bundled = _bundled_dir()
    if bundled is not None:
        candidate = bundled / "mosquitto"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("mosquitto")
    if found:
        return found
    if os.path.isfile(_SYSTEM_PATH) and os.access(_SYSTEM_PATH, os.X_OK):
        return _SYSTEM_PATH
    raise BrokerNotFound()


def mosquitto_env(executable: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment to run ``executable`` with.

    A bundled copy keeps its shared libraries next to it; when the executable's folder
    holds ``lib*.so*`` files, that folder goes first on ``LD_LIBRARY_PATH``.
    """
    env = dict(os.environ if base is None else base)
    folder = Path(executable).resolve().parent
    if any(folder.glob("lib*.so*")):
        current = env.get("LD_LIBRARY_PATH")
        env["LD_LIBRARY_PATH"] = str(folder) + (os.pathsep + current if current else "")
    return env


# --------------------------------------------------------------------------- credentials


def password_hash(password: str, *, salt: bytes | None = None) -> str:
    """Mosquitto 2.0 password-file hash: ``$7$101$<b64 salt>$<b64 PBKDF2-SHA512>``."""
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, _PBKDF2_ITERATIONS)
    return (
        f"$7${_PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}"
        f"${base64.b64encode(digest).decode()}"
    )


def _name_problem(what: str, value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return f"{what} is empty"
    bad = sorted(_BAD_IN_NAME.intersection(value))
    if bad:
        return f"{what} {value!r} contains {', '.join(repr(c) for c in bad)}"
    return None


def credential_problem(cred: DeviceCredential) -> str | None:
    """Why ``cred`` cannot be given to the broker, or ``None`` if it can.

    productID and deviceName are topic levels and part of the user name ``{p}&{d}``: no
    ``/ + # :``, whitespace or control characters, and no ``&`` in the productID.
    """
    problem = _name_problem("productID", cred.product_id) or _name_problem(
        "deviceName", cred.device_name
    )
    if problem:
        return problem
    if "&" in cred.product_id:
        return f"productID {cred.product_id!r} contains '&'"
    if not isinstance(cred.secret, str) or not cred.secret:
        return f"device {cred.product_id}&{cred.device_name} has an empty secret"
    if "\n" in cred.secret or "\r" in cred.secret:
        return f"device {cred.product_id}&{cred.device_name} has a line break in its secret"
    return None


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _connect_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def mqtt_login(host: str, port: int, user: str, password: str, timeout: float = 2.0) -> bool:
    """Whether the broker accepts ``user``/``password`` now: one MQTT 3.1.1 CONNECT, its CONNACK
    read, and the connection closed (no client library, no thread)."""
    def field(text: str) -> bytes:
        data = text.encode("utf-8")
        return len(data).to_bytes(2, "big") + data

    body = field("MQTT") + bytes([4, 0xC2]) + (10).to_bytes(2, "big") + field("") + field(user) + field(password)
    length, remaining = b"", len(body)
    while True:
        byte, remaining = remaining % 128, remaining // 128
        length += bytes([byte | (0x80 if remaining else 0)])
        if not remaining:
            break
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"\x10" + length + body)
            answer = b""
            while len(answer) < 4:
                chunk = sock.recv(4 - len(answer))
                if not chunk:
                    return False
                answer += chunk
            return answer[0] == 0x20 and answer[3] == 0
    except OSError:
        return False


def _catches_signal(pid: int, sig: int = signal.SIGHUP) -> bool | None:
    """Whether ``pid`` has installed its handler of ``sig`` (None where /proc is unavailable).

    Until it has, a SIGHUP (or SIGUSR1) would kill mosquitto instead of reloading it (or saving).
    """
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (sig - 1)))
    except (OSError, ValueError):
        return None
    return None


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie awaiting its parent counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _current_user() -> str | None:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return None


#: Open files the broker child may have: one per client connection plus a few. Many systems
#: give processes a soft limit of 1024; Mosquitto never raises it, and once it is reached it can
#: accept no connection at all (new clients wait in the listen queue and never get a CONNACK).
WANTED_NOFILE = 65536


def _raise_nofile(wanted: int = WANTED_NOFILE) -> None:
    """Raise this process's soft RLIMIT_NOFILE towards ``wanted`` (never above the hard limit)."""
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if soft != resource.RLIM_INFINITY and soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ImportError, OSError, ValueError):
        pass


def _broker_preexec() -> None:
    """preexec_fn of the broker child: dies with the backend, may hold a fleet's connections."""
    die_with_parent()
    _raise_nofile()


# --------------------------------------------------------------------------- broker


class EmbeddedMosquitto:
    """Mosquitto as a child process with its files under ``<data_dir>/mqtt/``.

    ``port=0`` picks a free port on the first start and keeps it for restarts. All methods
    are thread-safe (``ensure_running`` is meant to be called from a timer).
    """

    def __init__(
        self,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int = 1883,
        service_user: str = "ota-backend",
        service_password: str | None = None,
        *,
        executable: str | None = None,
        start_timeout: float = 10.0,
        tls: tuple[Path, Path] | None = None,
        tls_port: int = 8883,
    ) -> None:
        problem = _name_problem("service user", service_user)
        if problem or "&" in service_user:
            raise ValueError(problem or f"service user {service_user!r} contains '&'")
        self.dir = Path(data_dir) / "mqtt"
        self.host = host
        self._port = int(port)
        self.service_user = service_user
        self.service_password = service_password or secrets.token_urlsafe(24)
        self._executable = executable
        self.tls = tls  # (certificate, key): a second listener speaking MQTT over TLS
        self.tls_port = int(tls_port)
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._wanted = False  # started and not stopped: ensure_running brings it back
        self._lock = threading.RLock()
        self._hash_cache: dict[str, tuple[str, str]] = {}  # user -> (secret, hash)
        # user -> secret the broker knows (password file + live changes); None: unknown
        self._applied: dict[str, str] | None = None
        self._control: broker_control.DeviceControl | None = None
        self.live_changes = 0  # device changes applied over $CONTROL (no reload)
        self.reloads = 0
        # each password file carries a user of its own generation: a reload is confirmed when the
        # broker accepts it (Mosquitto forgets a SIGHUP that arrives while it is still reloading)
        self._generation = 0
        self._reload_secret = secrets.token_urlsafe(18)
        self.reload_timeout = 30.0
        self.restarts = 0
        # The plugin ota_clientid.so (plugin_build.py) binds client ids to their credential, so a
        # device cannot take another device's session over. client_id_guard: it is loaded;
        # client_id_guard_problem: why not.
        self._plugin: str | None = None
        self.client_id_guard = False
        self.client_id_guard_problem: str | None = None

    # ------------------------------------------------------------------ paths, url

    @property
    def conf_path(self) -> Path:
        return self.dir / "mosquitto.conf"

    @property
    def passwd_path(self) -> Path:
        return self.dir / "passwd"

    @property
    def acl_path(self) -> Path:
        return self.dir / "acl"

    @property
    def log_path(self) -> Path:
        return self.dir / "mosquitto.log"

    @property
    def pid_path(self) -> Path:
        return self.dir / "mosquitto.pid"

    @property
    def db_path(self) -> Path:
        """mosquitto's persistence file: sessions, their subscriptions and queued messages."""
        return self.dir / "mosquitto.db"

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """``mqtt://service_user:password@host:port`` for ``MqttLink``."""
        host = _connect_host(self.host)
        if ":" in host:
            host = f"[{host}]"
        user = quote(self.service_user, safe="")
        password = quote(self.service_password, safe="")
        return f"mqtt://{user}:{password}@{host}:{self._port}"

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def poll(self) -> int | None:
        """The exit code if the broker process has ended, else ``None`` (also if never started)."""
        proc = self._proc
        return None if proc is None else proc.poll()

    # ------------------------------------------------------------------ files

    def _conf_text(self) -> str:
        listener = f"listener {self._port} {self.host}" if self.host else f"listener {self._port}"
        lines = [
            "# Written by the OTA backend; rewritten on every start.",
            listener,
            "allow_anonymous false",
            f"password_file {self.passwd_path}",
            f"acl_file {self.acl_path}",
            *([f"plugin {self._plugin}", f"plugin_opt_service_user {self.service_user}",
               # the plugin decides which $ota topics a device may use: the ACL file stays constant
               "plugin_opt_device_acl true",
               # and holds device credentials changed over $CONTROL/ota-devices/v1 (no reload)
               "plugin_opt_device_control true"] if self._plugin else []),
            "persistence true",
            f"persistence_location {self.dir}/",
            "persistence_file mosquitto.db",
            "autosave_interval 10",
            "persistent_client_expiration 30d",
            "max_queued_messages 100000",
            "max_inflight_messages 1000",  # per client: the backend acknowledges after applying, in batches
            f"max_packet_size {MAX_PACKET_SIZE}",
            "set_tcp_nodelay true",
            "log_dest stdout",
            # connects and disconnects reach the backend on $SYS/broker/log/N: device online state
            "log_dest topic",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        ]
        if self.tls is not None:
            cert, key = self.tls
            lines += [f"listener {self.tls_port} {self.host}" if self.host else f"listener {self.tls_port}",
                      f"certfile {cert}", f"keyfile {key}"]
        user = _current_user()
        if user:
            # Started as root, mosquitto would switch to user "mosquitto", which cannot
            # read files under the caller's (private) data directory. Run it as the
            # backend's own user instead; mosquitto ignores this option when not root.
            lines.append(f"user {user}")
        return "\n".join(lines) + "\n"

    def _hash_for(self, user: str, secret: str) -> str:
        cached = self._hash_cache.get(user)
        if cached is not None and cached[0] == secret:
            return cached[1]
        hashed = password_hash(secret)
        self._hash_cache[user] = (secret, hashed)
        return hashed

    def _write_credentials(self, devices: Iterable[DeviceCredential]) -> int:
        self._generation += 1  # the reload check's user: only a broker that read this file knows it
        passwd = [f"{self.service_user}:{self._hash_for(self.service_user, self.service_password)}",
                  f"{self._reload_user()}:{self._hash_for(self._reload_user(), self._reload_secret)}"]
        acl = [
            "# Written by the OTA backend; rewritten whenever devices change.",
            f"user {self.service_user}",
            "topic readwrite $ota/#",
            "topic read $SYS/broker/log/N",
            # device credentials changed live (broker_control.py); '#' never matches '$' topics
            f"topic readwrite {broker_control.TOPIC}",
            f"topic readwrite {broker_control.RESPONSE_TOPIC}",
            "topic readwrite #",
        ]
        seen = {self.service_user, self._reload_user()}
        applied: dict[str, str] = {}
        for raw in devices:
            cred = DeviceCredential(*raw)
            problem = credential_problem(cred)
            user = f"{cred.product_id}&{cred.device_name}"
            if problem is None and user in seen:
                problem = f"duplicate user {user!r}"
            if problem:
                log.warning("MQTT credentials not written for a device: %s", problem)
                continue
            seen.add(user)
            applied[user] = cred.secret
            passwd.append(f"{user}:{self._hash_for(user, cred.secret)}")
            if not self._plugin:
                # without the plugin, one ACL entry per device (a reload is then quadratic in the
                # number of devices: 16 s at 50,000); with it, the plugin checks devices' topics
                acl += [
                    "",
                    f"user {user}",
                    f"topic write $ota/up/+/{cred.product_id}/{cred.device_name}",
                    f"topic read $ota/down/+/{cred.product_id}/{cred.device_name}",
                ]
        # Forget hashes of removed devices (and of earlier reload users).
        for user in set(self._hash_cache) - seen:
            del self._hash_cache[user]
        # ACL first: a device in the new password file must never find no ACL entry.
        _atomic_write(self.acl_path, "\n".join(acl) + "\n")
        _atomic_write(self.passwd_path, "\n".join(passwd) + "\n")
        self._applied = applied  # what the broker knows once it has read these files
        return len(seen) - 2

    # ------------------------------------------------------------------ process

    def _log_tail(self, lines: int = 15) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 8192))
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def _kill_stale(self) -> None:
        """End a broker left behind by a backend that died without stopping it."""
        try:
            pid = int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return
        if str(self.conf_path).encode() not in cmdline:
            return
        log.warning("ending a stale mosquitto (pid %d) left by an earlier run", pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.02)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)

    def _spawn(self) -> None:
        executable = self._executable or find_mosquitto()
        self._kill_stale()
        with contextlib.suppress(OSError):
            if self.log_path.stat().st_size > _LOG_ROTATE_BYTES:
                os.replace(self.log_path, self.log_path.with_suffix(".log.1"))
        with open(self.log_path, "ab") as logfile:
            self._proc = subprocess.Popen(
                [executable, "-c", str(self.conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=logfile,
                stderr=subprocess.STDOUT,
                env=mosquitto_env(executable),
                preexec_fn=_broker_preexec,
            )
        self.pid_path.write_text(f"{self._proc.pid}\n")
        try:
            self._wait_ready(self._proc)
        except BaseException:
            self._terminate()
            raise
        log.info("mosquitto %s running on %s:%d (pid %d)", executable, self.host, self._port, self._proc.pid)

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.start_timeout
        address = (_connect_host(self.host), self._port)
        while True:
            code = proc.poll()
            if code is not None:
                raise BrokerError(
                    f"mosquitto exited with code {code} while starting; "
                    f"log {self.log_path}:\n{self._log_tail()}"
                )
            if _catches_signal(proc.pid) is not False:
                try:
                    with socket.create_connection(address, timeout=0.5):
                        return
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"mosquitto did not accept connections on {address[0]}:{address[1]} "
                    f"within {self.start_timeout:g} s; log {self.log_path}:\n{self._log_tail()}"
                )
            time.sleep(0.01)

    def _terminate(self, timeout: float = 5.0) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("mosquitto did not stop within %g s; killing it", timeout)
                proc.kill()
                proc.wait()
        with contextlib.suppress(OSError):
            self.pid_path.unlink()

    # ------------------------------------------------------------------ public

    def start(self, devices: Iterable[DeviceCredential] = ()) -> None:
        """Write config, passwords and ACL, start mosquitto and wait until it accepts connections.

        Raises ``BrokerNotFound`` or ``BrokerError`` (with the tail of mosquitto's log).
        """
        with self._lock:
            if self.running:
                raise BrokerError("mosquitto is already running")
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            if self._port == 0:
                self._port = free_port(_connect_host(self.host))
            self._use_plugin()
            devices = list(devices)
            _atomic_write(self.conf_path, self._conf_text())
            count = self._write_credentials(devices)
            try:
                self._spawn()
            except BrokerError as exc:
                # a broker that cannot load the plugin still starts, without it (and says so)
                if not self._plugin or not _PLUGIN_FAILED.search(str(exc).rsplit(" starting", 1)[-1]):
                    raise
                self._plugin_missing(f"mosquitto could not load {self._plugin}: {exc}")
                _atomic_write(self.conf_path, self._conf_text())
                count = self._write_credentials(devices)  # per-device ACL entries again
                self._spawn()
            self.client_id_guard = self._plugin is not None
            self._wanted = True
            log.info("MQTT broker ready with %d device credentials", count)

    def _use_plugin(self) -> None:
        try:
            executable = self._executable or find_mosquitto()
        except BrokerNotFound:
            executable = None  # _spawn says so
        self._plugin, problem = client_id_plugin(executable)
        self.client_id_guard = False
        self.client_id_guard_problem = None
        if problem:
            self._plugin_missing(problem)

    def _plugin_missing(self, problem: str) -> None:
        self._plugin = None
        self.client_id_guard_problem = problem
        log.warning("client ids are not bound to credentials: install gcc and mosquitto-dev "
                    "(a device can take over another device's session by using its client id); %s", problem)

    def update_devices(self, devices: Iterable[DeviceCredential]) -> int:
        """Make the broker's device credentials ``devices``; the number of valid ones.

        The password (and ACL) files are rewritten atomically either way, for the next start. With
        the plugin, only the differences go to the running broker over ``$CONTROL`` (no reload:
        the broker keeps serving); removed and rotated devices are disconnected. Otherwise, or if
        that fails, the broker reloads the files (SIGHUP), which disconnects clients whose
        credentials are gone. Invalid credentials are skipped and logged (``credential_problem``).
        """
        with self._lock:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            devices = list(devices)
            before = self._applied
            count = self._write_credentials(devices)
            pid = self.pid
            if pid is None:
                return count
            if self._plugin and before is not None:
                lines = self._changes(before, self._applied or {})
                try:
                    self.live_changes += self._control_channel().send(lines)
                    return count
                except broker_control.ControlError as exc:
                    log.warning("device changes go to the broker by a reload: %s", exc)
                    self._drop_control()
            self._reload(pid)
            return count

    def _reload_user(self) -> str:
        return f"ota-reload-{self._generation}"

    def _reload(self, pid: int) -> None:
        """SIGHUP, then wait until the broker accepts this file's reload user; a signal lost during
        an earlier reload is sent again."""
        host = _connect_host(self.host)
        deadline = time.monotonic() + self.reload_timeout
        while True:
            os.kill(pid, signal.SIGHUP)
            self.reloads += 1
            resend = time.monotonic() + 2.0
            while time.monotonic() < min(resend, deadline):
                if mqtt_login(host, self._port, self._reload_user(), self._reload_secret):
                    return
                time.sleep(0.05)
            if time.monotonic() >= deadline or self.poll() is not None:
                log.warning("the MQTT broker did not confirm its reload within %.0f s", self.reload_timeout)
                return

    @staticmethod
    def _changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
        lines = [broker_control.remove(user) for user in before.keys() - after.keys()]
        for user, secret in after.items():
            old = before.get(user)
            if old is None:
                lines.append(broker_control.add(user, secret))
            elif old != secret:
                lines.append(broker_control.rotate(user, secret))
        return lines

    def _control_channel(self) -> broker_control.DeviceControl:
        if self._control is None:
            self._control = broker_control.DeviceControl(
                _connect_host(self.host), self._port, self.service_user, self.service_password,
                client_id=f"{self.service_user}-control")
        return self._control

    def _drop_control(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (mosquitto saves its persistence file), wait, then SIGKILL."""
        with self._lock:
            self._drop_control()
            self._wanted = False
            self._terminate(timeout)
            self._proc = None

    def restart(self) -> None:
        """Stop and start again with the files already written (same port)."""
        with self._lock:
            if not self.conf_path.exists():
                raise BrokerError("restart() before start()")
            self._terminate()
            self._spawn()
            self._wanted = True
            self.restarts += 1

    def save_sessions(self, wait: float = 0.0) -> bool:
        """Have mosquitto write its persistence file now (SIGUSR1), not at its next autosave.

        Called when the backend's link has subscribed: a broker that dies before its next autosave
        (SIGKILL, a crash) comes back knowing the backend's session and subscriptions, so device
        messages published before the backend reconnects are queued for it instead of dropped
        (matching no subscription). Lock-free and non-blocking unless ``wait`` > 0: then True once
        the file was rewritten within ``wait`` seconds. False if the broker does not run.
        """
        pid = self.pid
        if pid is None or _catches_signal(pid, signal.SIGUSR1) is False:
            return False  # not running, or too early: SIGUSR1 would end it
        before = _file_stamp(self.db_path)
        try:
            os.kill(pid, signal.SIGUSR1)
        except ProcessLookupError:
            return False
        if wait <= 0:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if _file_stamp(self.db_path) not in (before, None):
                return True
            time.sleep(0.01)
        return False

    def ensure_running(self) -> bool:
        """Start mosquitto again if it died since ``start()``; True if it was restarted.

        Does nothing after ``stop()`` or before ``start()``. Raises ``BrokerError`` if the
        restart fails (the caller's timer logs it and tries again later).
        """
        with self._lock:
            if not self._wanted or self._proc is None or self._proc.poll() is None:
                return False
            log.warning(
                "mosquitto exited with code %s; restarting it. Log tail:\n%s",
                self._proc.returncode,
                self._log_tail(),
            )
            self._spawn()
            self.restarts += 1
            return True

    def __enter__(self) -> EmbeddedMosquitto:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<EmbeddedMosquitto {self.host}:{self._port} pid={self.pid} dir={self.dir}>"
