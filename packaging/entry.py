"""Entry point of the frozen bundle: one executable, ``ota-desktop``, for every program.

    ota-desktop [Qt options]          the desktop app
    ota-desktop backend [options]     the headless backend (same options as ota-backend)
    ota-desktop devsim [options]      the device fleet simulator (same options as ota-devsim)
    ota-desktop --version             print the version

``_module NAME ARGS...`` runs a Python module as ``__main__``: the frozen bundle has no
interpreter to call with ``-m``, so ``backend.procs.module_command`` uses it to start helper
programs (the embedded object store: ``_module nanio serve ...``).

Works unfrozen too (``python packaging/entry.py backend ...``), which is how it is tested
without a build.
"""
from __future__ import annotations

import runpy
import sys

USAGE = """\
usage: ota-desktop [Qt options]            start the desktop app
       ota-desktop backend [options]      headless backend (see: ota-desktop backend --help)
       ota-desktop devsim [options]       device fleet simulator (see: ota-desktop devsim --help)
       ota-desktop --version              print the version
"""


def _version() -> str:
    from backend import __version__

    return __version__


def run_module(name: str, args: list[str]) -> int:
    """``python -m name args...`` inside this process."""
    sys.argv = [name, *args]
    try:
        runpy.run_module(name, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    command = args[0] if args else ""
    if command == "backend":
        from backend.cli import main as backend_main

        return backend_main(args[1:])
    if command == "devsim":
        from devsim.cli import main as devsim_main

        return devsim_main(args[1:])
    if command == "_module":
        if len(args) < 2:
            print("usage: ota-desktop _module NAME [ARGS...]", file=sys.stderr)
            return 2
        return run_module(args[1], args[2:])
    if command == "--version":
        print(f"ota-desktop {_version()}")
        return 0
    if command in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    from ota_desktop.__main__ import main as desktop_main

    return desktop_main([sys.argv[0], *args])


if __name__ == "__main__":
    sys.exit(main())
