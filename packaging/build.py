#!/usr/bin/env python3
"""Build the release bundle.

    .venv/bin/python packaging/build.py

1. PyInstaller (packaging/ota-desktop.spec) -> dist/ota-desktop/ (one folder, executable
   ota-desktop: desktop app, `backend`, `devsim`);
2. on Linux, the installed Mosquitto broker and the shared libraries it needs (glibc's own
   excepted) -> dist/ota-desktop/mosquitto/, with the broker plugin ota_clientid.so compiled
   from backend/mqtt/plugin/ (binds client ids to credentials), then a start check of that
   copy, plugin loaded, with a clean PATH;
3. dist/ota-desktop-<version>-linux-<arch>.tar.gz and its .sha256 beside it.

Needs the `packaging` extra (`pip install -e .[packaging]`), binutils (objdump) and, for the
broker, Debian's mosquitto package, gcc and mosquitto-dev (the plugin's headers).
"""
from __future__ import annotations

import argparse
import filecmp
import hashlib
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "ota-desktop.spec"
NAME = "ota-desktop"
MOSQUITTO = "/usr/sbin/mosquitto"
# Part of glibc (or the kernel): every Linux target has its own, and a copy would clash with it.
SYSTEM_LIBS = re.compile(
    r"^(linux-vdso|linux-gate|ld-linux[^/]*|libc|libm|libdl|libpthread|librt|libresolv|libutil|"
    r"libanl|libnss_[a-z]+|libBrokenLocale|libmvec)\.so"
)


class BuildError(RuntimeError):
    pass


def version() -> str:
    text = (ROOT / "ota_protocol" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r"""__version__\s*=\s*["']([^"']+)""", text)
    if not match:
        raise BuildError("no __version__ in ota_protocol/__init__.py")
    return match.group(1)


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


# --------------------------------------------------------------------------- PyInstaller


def run_pyinstaller(dist: Path, work: Path) -> Path:
    try:
        import PyInstaller  # noqa: F401
    except ImportError as exc:
        raise BuildError("PyInstaller is not installed: pip install -e '.[packaging]'") from exc
    if shutil.which("objdump") is None:
        raise BuildError("objdump not found: install binutils (apt-get install binutils)")
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
           "--distpath", str(dist), "--workpath", str(work), str(SPEC)]
    subprocess.run(cmd, check=True, cwd=ROOT)
    bundle = dist / NAME
    if not (bundle / NAME).is_file():
        raise BuildError(f"PyInstaller did not produce {bundle / NAME}")
    return bundle


# --------------------------------------------------------------------------- Mosquitto


def shared_libraries(binary: Path) -> list[Path]:
    """Libraries ``binary`` loads (from ldd), without glibc's own."""
    out = subprocess.run(["ldd", str(binary)], check=True, capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        line = line.strip()
        if "not found" in line:
            raise BuildError(f"{binary}: {line}")
        name = line.split()[0]
        if SYSTEM_LIBS.match(Path(name).name):
            continue
        match = re.search(r"=>\s*(/\S+)", line)
        if match:
            libs.append(Path(match.group(1)))
    return libs


def bundle_mosquitto(bundle: Path, source: Path) -> Path:
    target = bundle / "mosquitto"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir()
    shutil.copy2(source, target / "mosquitto")
    internal = bundle / "_internal"
    for lib in shared_libraries(source):
        dest = target / lib.name  # under the name the loader asks for
        twin = internal / lib.name
        if twin.is_file() and not twin.is_symlink() and filecmp.cmp(twin, lib.resolve(), shallow=False):
            dest.symlink_to(os.path.relpath(twin, target))  # the same file PyInstaller already bundled
        else:
            shutil.copy2(lib.resolve(), dest)
    copyright_file = Path("/usr/share/doc/mosquitto/copyright")
    if copyright_file.is_file():
        shutil.copy2(copyright_file, target / "COPYRIGHT")
    return target / "mosquitto"


def bundle_clientid_plugin(folder: Path) -> Path:
    """Compile the broker plugin ota_clientid.so into the bundle's mosquitto/ folder."""
    sys.path.insert(0, str(ROOT))
    from backend.mqtt.plugin_build import PLUGIN_FILE, PluginBuildError, build_plugin, missing_build_tools

    missing = missing_build_tools()
    if missing:
        raise BuildError(f"{missing} not found: the broker plugin {PLUGIN_FILE} needs them "
                         "(apt-get install gcc mosquitto-dev)")
    try:
        return build_plugin(folder / PLUGIN_FILE)
    except PluginBuildError as exc:
        raise BuildError(str(exc)) from exc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_mosquitto(executable: Path) -> None:
    """The copy resolves its libraries inside its folder and starts with a clean PATH."""
    sys.path.insert(0, str(ROOT))
    from backend.mqtt.broker import mosquitto_env  # how the backend will run it

    folder = executable.parent
    env = mosquitto_env(str(executable), base={"PATH": "/usr/bin:/bin"})
    out = subprocess.run(["ldd", str(executable)], check=True, capture_output=True, text=True, env=env).stdout
    for line in out.splitlines():
        match = re.search(r"^\s*(\S+)\s*=>\s*(\S+)", line)
        if not match:
            continue
        name, path = match.groups()
        if path == "not" or not (SYSTEM_LIBS.match(name) or Path(path).parent == folder):
            raise BuildError(f"bundled mosquitto does not use its own copy of {name}: {line.strip()}")
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "check.conf"
        user = f"user {os.environ.get('USER') or 'root'}\n" if os.geteuid() == 0 else ""
        plugin = folder / "ota_clientid.so"
        plugin_lines = f"plugin {plugin}\nplugin_opt_service_user ota-backend\n" if plugin.is_file() else ""
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n{user}{plugin_lines}")
        proc = subprocess.Popen([str(executable), "-c", str(conf)], env=env, cwd=tmp,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert proc.stdout is not None  # stdout=PIPE
        try:
            deadline = time.monotonic() + 10
            while True:
                if proc.poll() is not None:
                    raise BuildError(f"bundled mosquitto exited ({proc.returncode}): {proc.stdout.read().decode()}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise BuildError("bundled mosquitto did not listen within 10 s") from None
                    time.sleep(0.05)
        finally:
            proc.terminate()
            proc.wait(5)
            proc.stdout.close()


def unresolved_qt_libraries(bundle: Path) -> dict[str, list[str]]:
    """Libraries the kept platform plugins need that neither the bundle nor this machine has.

    The target must provide them (e.g. libxcb-cursor0 for xcb); build on a machine that has
    them installed and PyInstaller bundles them.
    """
    internal = bundle / "_internal"
    env = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": f"{internal}:{internal / 'PySide6/Qt/lib'}"}
    missing = {}
    for plugin in sorted((internal / "PySide6/Qt/plugins/platforms").glob("*.so")):
        out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, env=env).stdout
        names = [line.split()[0] for line in out.splitlines() if "not found" in line]
        if names:
            missing[plugin.name] = names
    return missing


# --------------------------------------------------------------------------- archive


def archive(bundle: Path, ver: str) -> Path:
    machine = platform.machine().lower() or "unknown"
    system = platform.system().lower()
    tar_path = bundle.parent / f"{NAME}-{ver}-{system}-{machine}.tar.gz"
    tmp = tar_path.with_name(tar_path.name + ".part")
    with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
        tar.add(bundle, arcname=NAME)
    tmp.replace(tar_path)
    digest = hashlib.sha256()
    with tar_path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    # `sha256sum -c` format
    Path(str(tar_path) + ".sha256").write_text(f"{digest.hexdigest()}  {tar_path.name}\n", encoding="ascii")
    return tar_path


# --------------------------------------------------------------------------- main


def build(dist: Path, work: Path, *, mosquitto: str | None = MOSQUITTO, make_archive: bool = True) -> dict:
    """Build the bundle; ``mosquitto=None`` bundles no broker. Returns paths, sizes, timings."""
    started = time.monotonic()
    ver = version()
    bundle = run_pyinstaller(dist, work)
    pyinstaller_s = time.monotonic() - started
    broker = None
    if mosquitto and platform.system() == "Linux":
        source = Path(mosquitto)
        if not source.is_file():
            raise BuildError(f"{source} not found: install Debian's mosquitto package (apt-get install mosquitto),"
                             " or pass --mosquitto PATH or --no-mosquitto")
        broker = bundle_mosquitto(bundle, source)
        bundle_clientid_plugin(broker.parent)
        check_mosquitto(broker)
    missing = unresolved_qt_libraries(bundle)
    for plugin, names in missing.items():
        print(f"warning: {plugin} needs {', '.join(names)}, which the target must provide", file=sys.stderr)
    tar_path = archive(bundle, ver) if make_archive else None
    return {
        "version": ver,
        "bundle": bundle,
        "mosquitto": broker,
        "archive": tar_path,
        "pyinstaller_s": pyinstaller_s,
        "build_s": time.monotonic() - started,
        "folder_bytes": folder_size(bundle),
        "archive_bytes": tar_path.stat().st_size if tar_path else 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dist-dir", type=Path, default=ROOT / "dist", help="output folder (default dist/)")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "build" / "pyinstaller",
                        help="PyInstaller's work folder (default build/pyinstaller/)")
    parser.add_argument("--mosquitto", metavar="PATH", default=MOSQUITTO,
                        help="broker executable to bundle (default %(default)s)")
    parser.add_argument("--no-mosquitto", action="store_true", help="bundle no broker")
    parser.add_argument("--no-archive", action="store_true", help="only the folder, no tar.gz")
    args = parser.parse_args(argv)
    try:
        result = build(args.dist_dir.resolve(), args.work_dir.resolve(),
                       mosquitto=None if args.no_mosquitto else args.mosquitto, make_archive=not args.no_archive)
    except (BuildError, subprocess.CalledProcessError) as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    print(f"bundle   {result['bundle']}  {mib(result['folder_bytes'])}")
    if result["mosquitto"]:
        print(f"broker   {result['mosquitto']}")
    if result["archive"]:
        print(f"archive  {result['archive']}  {mib(result['archive_bytes'])}")
        print(f"sha256   {result['archive']}.sha256")
    print(f"time     {result['build_s']:.1f} s (PyInstaller {result['pyinstaller_s']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
