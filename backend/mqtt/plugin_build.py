"""The broker plugin ``ota_clientid.so``: finds a bundled copy or compiles it once into a cache.

The plugin (source ``backend/mqtt/plugin/ota_clientid.c``) binds MQTT client ids to the
credential that connects with them, so that no device can take another device's session over;
see the source for the rules. It needs Mosquitto 2.x (plugin API version 5).

``client_id_plugin(executable)`` returns ``(path, None)`` or ``(None, why not)``:

1. a frozen bundle carries a prebuilt ``ota_clientid.so`` in its ``mosquitto/`` folder (next to
   the bundled broker; ``packaging/build.py`` puts it there);
2. otherwise ``gcc -shared -fPIC`` compiles the source against the headers of Debian's
   ``mosquitto-dev`` into ``$XDG_CACHE_HOME/ota-desktop/`` (``~/.cache/ota-desktop/``), under a
   name keyed by the source's sha256 and the broker's version, so it is built once.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

__all__ = ["PLUGIN_FILE", "SOURCE", "PluginBuildError", "build_plugin", "bundled_plugin", "cache_dir",
           "client_id_plugin", "missing_build_tools", "mosquitto_version"]

#: The plugin's file name, in a bundle's ``mosquitto/`` folder and as the compiler's output.
PLUGIN_FILE = "ota_clientid.so"
SOURCE = Path(__file__).resolve().parent / "plugin" / "ota_clientid.c"
INCLUDE_DIR = Path("/usr/include")
HEADERS = ("mosquitto_plugin.h", "mosquitto_broker.h")
COMPILE_TIMEOUT = 120.0


class PluginBuildError(RuntimeError):
    """The plugin could not be compiled."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ota-desktop"


def bundled_plugin() -> Path | None:
    """``<bundle>/mosquitto/ota_clientid.so`` of a frozen build, if it is there."""
    from .broker import _bundled_dir

    folder = _bundled_dir()
    if folder is not None and (folder / PLUGIN_FILE).is_file():
        return folder / PLUGIN_FILE
    return None


@functools.lru_cache(maxsize=8)
def _version_of(executable: str, _mtime_ns: int) -> str | None:
    from .broker import mosquitto_env

    try:
        out = subprocess.run([executable, "-h"], stdin=subprocess.DEVNULL, capture_output=True,
                             timeout=10, env=mosquitto_env(executable)).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(rb"mosquitto version (\S+)", out)
    return match.group(1).decode("ascii", "replace") if match else None


def mosquitto_version(executable: str) -> str | None:
    """``2.0.11`` for the broker at ``executable`` (from ``mosquitto -h``), None if unknown."""
    try:
        mtime = os.stat(executable).st_mtime_ns
    except OSError:
        return None
    return _version_of(executable, mtime)


def missing_build_tools(include_dir: Path = INCLUDE_DIR) -> str | None:
    """What is missing to compile the plugin here, or None."""
    missing = []
    if shutil.which("gcc") is None:
        missing.append("gcc")
    if not all((include_dir / header).is_file() for header in HEADERS):
        missing.append(f"the Mosquitto plugin headers ({include_dir / HEADERS[0]}, Debian package mosquitto-dev)")
    return " and ".join(missing) or None


def build_plugin(output: Path, source: Path = SOURCE, include_dir: Path = INCLUDE_DIR) -> Path:
    """Compile ``source`` into ``output`` (written atomically). Raises ``PluginBuildError``."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise PluginBuildError("gcc not found")
    output.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    cmd = [gcc, "-shared", "-fPIC", "-O2", "-Wall", f"-I{include_dir}", "-o", str(tmp), str(source)]
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=COMPILE_TIMEOUT)
        if done.returncode != 0:
            raise PluginBuildError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, output)
    except (OSError, subprocess.SubprocessError) as exc:
        raise PluginBuildError(f"compiling {source.name} failed: {exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return output


def _trusted(path: Path) -> bool:
    """Ours and writable only by us: the broker will load it as code."""
    try:
        st = path.stat()
    except OSError:
        return False
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def client_id_plugin(executable: str | None) -> tuple[str | None, str | None]:
    """``(path of ota_clientid.so, None)`` for the broker ``executable``, or ``(None, reason)``."""
    bundled = bundled_plugin()
    if bundled is not None:
        return str(bundled), None
    version = mosquitto_version(executable) if executable else None
    if version is None:
        return None, "the version of the mosquitto broker is unknown"
    if not version.startswith("2."):
        return None, f"mosquitto {version} has no plugin API version 5 (needs Mosquitto 2.x)"
    try:
        digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    except OSError:
        where = "this bundle" if getattr(sys, "frozen", False) else str(SOURCE.parent)
        return None, f"the plugin source {SOURCE.name} is not in {where}"
    output = cache_dir() / f"ota_clientid-{digest}-mosquitto-{version}.so"
    if output.is_file() and _trusted(output):
        return str(output), None
    missing = missing_build_tools()
    if missing:
        return None, f"{missing} not found"
    try:
        return str(build_plugin(output)), None
    except PluginBuildError as exc:
        return None, str(exc)
