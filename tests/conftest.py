"""Shared fixtures: real servers on 127.0.0.1 (backend, Mosquitto via the backend, nanio, PostgreSQL).

Every standard directory points into a temporary folder, the keyring is the `fail` backend
unless a test installs its own, and Qt renders offscreen.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

# the MQTT fixtures (`broker`) for every test module, without importing them one by one
pytest_plugins = ["tests._mqtt_fixtures"]

_SANDBOX = Path(tempfile.mkdtemp(prefix="ota-tests-home-"))
for _var, _sub in (("HOME", "home"), ("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                   ("XDG_CACHE_HOME", "cache"), ("XDG_RUNTIME_DIR", "runtime")):
    (_SANDBOX / _sub).mkdir(mode=0o700, exist_ok=True)
    os.environ[_var] = str(_SANDBOX / _sub)
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
for _var in list(os.environ):
    if _var.startswith("OTA_"):
        del os.environ[_var]

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "test-admin-token"


# ---- PostgreSQL ---------------------------------------------------------------------------

def _pg_bin() -> Path | None:
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / "initdb").exists():
            return base
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PostgresServer:
    """A throw-away cluster on 127.0.0.1 (initdb + pg_ctl; as user postgres when we are root)."""

    def __init__(self, bindir: Path, root: Path):
        from backend.procs import free_port
        self.bindir, self.root, self.port = bindir, root, free_port()
        self.datadir = root / "pgdata"
        self.as_user = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if self.as_user:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/")

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(self.root, "postgres")
        self._run(str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", "ota", "-A", "trust", "-E", "UTF8")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-w", "-l", str(self.root / "pg.log"),
                  "-o", f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off", "start")

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass

    def new_database(self) -> str:
        import psycopg
        name = f"ota_{os.getpid()}_{int(time.time() * 1e6)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=ota dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://ota@127.0.0.1:{self.port}/{name}"


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql); .ci/run installs it")
    root = Path(tempfile.mkdtemp(prefix="ota-pg-"))
    server = PostgresServer(bindir, root)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


# ---- the backend as a real child process ------------------------------------------------------

class Api:
    """A tiny JSON client for the backend (httpx, 127.0.0.1 only)."""

    def __init__(self, base_url: str, token: str = TOKEN):
        import httpx
        self.base_url, self.token = base_url, token
        self.http = httpx.Client(base_url=base_url, timeout=120)

    def raw(self, path: str, body=None, token: str | None = "default", **kw):
        headers = kw.pop("headers", {})
        if token == "default":
            token = self.token
        if token:
            headers["iThings-token"] = token
        if isinstance(body, (bytes, str)):
            return self.http.post(path, content=body, headers=headers, **kw)
        return self.http.post(path, json=body if body is not None else {}, headers=headers, **kw)

    def call(self, path: str, body=None, **kw) -> tuple[int, dict]:
        r = self.raw(path, body, **kw)
        return r.status_code, r.json()

    def ok(self, path: str, body=None) -> dict:
        status, doc = self.call(path, body)
        assert status == 200 and doc["code"] == 200, (path, status, doc)
        return doc.get("data", {})

    def close(self) -> None:
        self.http.close()


class BackendProcess:
    def __init__(self, data_dir: Path, database_url: str = "", minute_seconds: float = 60.0,
                 extra_args: list[str] | None = None, env: dict | None = None):
        self.data_dir, self.database_url = data_dir, database_url
        self.minute_seconds = minute_seconds
        self.extra_args = extra_args or []
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.base_url = ""
        self.mqtt_port = 0
        self.http_port = 0
        self.lines: list[str] = []

    def start(self, timeout: float = 60) -> BackendProcess:
        args = [sys.executable, "-m", "backend", "--data-dir", str(self.data_dir),
                "--http-port", str(self.http_port), "--mqtt-port", str(self.mqtt_port),
                "--minute-seconds", str(self.minute_seconds), "--log-level", "info", *self.extra_args]
        if self.database_url:
            args += ["--database-url", self.database_url]
        env = dict(os.environ, OTA_ADMIN_TOKEN=TOKEN, **self.env)
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=env, cwd=ROOT, bufsize=1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if " ready http://" in line:
                parts = line.split()
                self.base_url = next(p for p in parts if p.startswith("http://"))
                self.http_port = int(self.base_url.rsplit(":", 1)[1])
                mqtt = [p for p in parts if p.startswith("mqtt://")]
                self.mqtt_port = int(mqtt[0].rsplit(":", 1)[1]) if mqtt else 0
                threading.Thread(target=self._pump, daemon=True).start()
                return self
        self.stop()
        raise RuntimeError("backend did not start:\n" + "".join(self.lines[-40:]))

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    @property
    def service_mqtt_url(self) -> str:
        pw = (self.data_dir / "mqtt-service-password").read_text().strip()
        return f"mqtt://ota-backend:{pw}@127.0.0.1:{self.mqtt_port}"

    def api(self) -> Api:
        return Api(self.base_url)

    def stop(self, sig: str = "term") -> int | None:
        if self.proc is None:
            return None
        import psutil
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            children = []
        if self.proc.poll() is None:
            self.proc.terminate() if sig == "term" else self.proc.kill()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        _, alive = psutil.wait_procs(children, timeout=5)
        for child in alive:  # never leave a broker or object store behind a test
            child.kill()
        return self.proc.returncode


DATABASES = ["sqlite", "postgresql"]


def pytest_generate_tests(metafunc):
    """Backends run on SQLite; tests (or modules) marked ``both_databases`` also on PostgreSQL.

    The rules are tested in-process (database-independent); PostgreSQL runs where SQL is the
    point: the API's queries, filters and limits, migrations, and one whole rollout.
    """
    both = metafunc.definition.get_closest_marker("both_databases") is not None
    for name in ("database_url", "shared_backend_db"):
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, DATABASES if both else DATABASES[:1], indirect=True,
                                 scope="module" if name == "shared_backend_db" else "function")


@pytest.fixture
def database_url(request) -> str:
    if request.param == "sqlite":
        return ""
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture(scope="module")
def shared_backend_db(request) -> str:
    return request.param


@pytest.fixture
def start_backend(tmp_path, database_url):
    """Factory: start a backend (SQLite or PostgreSQL) with the given options; stopped after the test."""
    started: list[BackendProcess] = []

    def start(name: str = "backend", **kw) -> BackendProcess:
        kw.setdefault("database_url", database_url)
        bp = BackendProcess(tmp_path / name, **kw).start()
        started.append(bp)
        return bp

    yield start
    for bp in started:
        bp.stop()


@pytest.fixture(scope="module")
def shared_backend(request, tmp_path_factory, shared_backend_db):
    """One backend per test module and database kind, for tests that do not need a fresh one."""
    url = "" if shared_backend_db == "sqlite" else request.getfixturevalue("postgres").new_database()
    bp = BackendProcess(tmp_path_factory.mktemp("backend"), database_url=url).start()
    yield bp
    bp.stop()


@pytest.fixture
def api(shared_backend):
    client = shared_backend.api()
    yield client
    client.close()


@pytest.fixture(autouse=True, scope="session")
def _desktop_preferred_ports_per_worker():
    """The app prefers 7777/1883 for its embedded backend; test workers running side by side
    (pytest-xdist) would race for them, and one worker's devices would reach another worker's
    broker. Each worker gets preferred ports of its own (below the ephemeral range that port-0
    listeners use); the app's logic around them is unchanged."""
    try:
        import ota_desktop.connection as connection
    except ImportError:  # no PySide6: no desktop tests
        yield
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    n = int(worker[2:]) if worker[2:].isdigit() else 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(connection, "DEFAULT_HTTP_PORT", 21007 + 10 * n)
        mp.setattr(connection, "DEFAULT_MQTT_PORT", 21003 + 10 * n)
        yield
