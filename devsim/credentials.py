"""Where device secrets come from: the backend's device API, or a CSV file.

* :func:`fetch_from_backend` pages through ``POST /api/v1/things/device/info/index``
  (``withSecret: true``) with the admin token and, with ``create=True``, first imports the
  devices that do not exist yet through ``POST /api/v1/things/device/info/import``.
* :func:`load_csv` reads ``productID,deviceName,deviceSecret`` lines (a header line is
  skipped). With a header, columns are found by name, so OTA Desktop's provisioning export
  (``productID,deviceName,deviceSecret,mqttHost,mqttPort,baseUrl``) is read as it is.
* :func:`load_credentials` reads either: a CSV, or the export's JSON form (an object with
  ``devices``, or a plain list of ``{productID, deviceName, deviceSecret, ...}``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

INDEX_PATH = "/api/v1/things/device/info/index"
IMPORT_PATH = "/api/v1/things/device/info/import"
PAGE_SIZE = 1000
IMPORT_BATCH = 1000


@dataclass(frozen=True)
class Credential:
    product_id: str
    device_name: str
    secret: str | None = None


class BackendError(RuntimeError):
    """The backend refused a call or answered something that is not the envelope."""


def device_names(prefix: str, count: int) -> list[str]:
    """``{prefix}{i:05d}`` for i = 1..count."""
    return [f"{prefix}{i:05d}" for i in range(1, count + 1)]


def _call(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        resp = http.post(path, json=body)
    except httpx.HTTPError as exc:
        raise BackendError(f"POST {path}: {exc}") from None
    try:
        env = resp.json()
    except ValueError:
        raise BackendError(f"POST {path}: HTTP {resp.status_code}, not JSON") from None
    if resp.status_code != 200 or not isinstance(env, dict) or env.get("code") != 200:
        msg = env.get("msg") if isinstance(env, dict) else None
        code = env.get("code") if isinstance(env, dict) else None
        raise BackendError(f"POST {path}: HTTP {resp.status_code}, code {code}: {msg}")
    data = env.get("data") or {}
    if not isinstance(data, dict):
        raise BackendError(f"POST {path}: data is not an object")
    return data


def _index(http: httpx.Client, product_id: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    page = 1
    while True:
        data = _call(
            http,
            INDEX_PATH,
            {"productID": product_id, "withSecret": True, "page": {"page": page, "size": PAGE_SIZE}},
        )
        rows = data.get("list") or []
        for row in rows:
            if isinstance(row, dict) and row.get("deviceName"):
                found[str(row["deviceName"])] = row
        total = data.get("total")
        if not rows or len(rows) < PAGE_SIZE or (isinstance(total, int) and page * PAGE_SIZE >= total):
            return found
        page += 1


def fetch_from_backend(
    base_url: str,
    token: str | None,
    product_id: str,
    names: Iterable[str],
    version: str,
    create: bool = False,
    timeout: float = 30.0,
) -> list[Credential]:
    """Secrets of the named devices; ``create`` imports the missing ones first.

    Raises :class:`BackendError` when a device is missing (and ``create`` is off) or has
    no secret.
    """
    names = list(names)
    headers = {"iThings-token": token} if token else {}
    with httpx.Client(base_url=base_url, headers=headers, timeout=timeout) as http:
        found = _index(http, product_id)
        missing = [n for n in names if n not in found]
        if missing and create:
            for i in range(0, len(missing), IMPORT_BATCH):
                batch = missing[i : i + IMPORT_BATCH]
                data = _call(
                    http,
                    IMPORT_PATH,
                    {"productID": product_id, "devices": [{"deviceName": n, "version": version} for n in batch]},
                )
                for row in data.get("list") or []:
                    if isinstance(row, dict) and row.get("deviceName"):
                        found[str(row["deviceName"])] = row
            if any(n not in found or not found[n].get("deviceSecret") for n in missing):
                found.update(_index(http, product_id))
    missing = [n for n in names if n not in found]
    if missing:
        hint = "" if create else " (use --create to import them)"
        raise BackendError(f"{len(missing)} devices of product {product_id} do not exist, e.g. {missing[0]}{hint}")
    no_secret = [n for n in names if not found[n].get("deviceSecret")]
    if no_secret:
        raise BackendError(f"the backend returned no deviceSecret for {len(no_secret)} devices, e.g. {no_secret[0]}")
    return [Credential(product_id, n, str(found[n]["deviceSecret"])) for n in names]


HEADER = ("productID", "deviceName", "deviceSecret")


def load_csv(path: str | Path) -> list[Credential]:
    creds: list[Credential] = []
    columns: tuple[int, int, int] | None = None  # positions of the three fields, from a header
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for row in csv.reader(fh):
            if not row or row[0].strip().startswith("#"):
                continue
            cells = [c.strip() for c in row]
            if columns is None and not creds and all(h in cells for h in HEADER):
                p_at, d_at, s_at = (cells.index(h) for h in HEADER)
                columns = (p_at, d_at, s_at)
                continue
            at = columns or (0, 1, 2)
            if len(cells) <= max(at):
                raise ValueError(f"{path}: line {row!r} is not productID,deviceName,deviceSecret")
            p, d, s = (cells[i] for i in at)
            creds.append(Credential(p, d, s or None))
    return creds


def load_json(path: str | Path) -> list[Credential]:
    with open(path, encoding="utf-8-sig") as fh:
        data = json.load(fh)
    devices = data.get("devices") if isinstance(data, dict) else data
    if not isinstance(devices, list):
        raise ValueError(f"{path}: expected a list of devices or an object with \"devices\"")
    default_product = data.get("productID") if isinstance(data, dict) else None
    creds = []
    for i, item in enumerate(devices):
        if not isinstance(item, dict):
            raise ValueError(f"{path}: device {i + 1} is not an object")
        product, name = item.get("productID") or default_product, item.get("deviceName")
        if not product or not name:
            raise ValueError(f"{path}: device {i + 1} has no productID or deviceName")
        secret = item.get("deviceSecret")
        creds.append(Credential(str(product), str(name), str(secret) if secret else None))
    return creds


def load_credentials(path: str | Path) -> list[Credential]:
    """A credentials file: JSON (``.json``, or content starting with ``{``/``[``) or CSV."""
    if str(path).lower().endswith(".json") or _looks_like_json(path):
        return load_json(path)
    return load_csv(path)


def provisioned_endpoints(path: str | Path) -> tuple[str | None, str | None]:
    """``(baseUrl, mqtt://host:port)`` named by a provisioning export's first device, if any."""
    first: Mapping[str, Any]
    if str(path).lower().endswith(".json") or _looks_like_json(path):
        with open(path, encoding="utf-8-sig") as fh:
            data = json.load(fh)
        devices = data.get("devices") if isinstance(data, dict) else data
        first = devices[0] if isinstance(devices, list) and devices and isinstance(devices[0], dict) else {}
    else:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = csv.DictReader(line for line in fh if line.strip() and not line.lstrip().startswith("#"))
            row = next(iter(rows), None)
            first = row or {}
    base = str(first.get("baseUrl") or "").strip() or None
    host, port = str(first.get("mqttHost") or "").strip(), str(first.get("mqttPort") or "").strip()
    mqtt = f"mqtt://{'[' + host + ']' if ':' in host else host}:{port}" if host and port.isdigit() else None
    return base, mqtt


def _looks_like_json(path: str | Path) -> bool:
    with open(path, encoding="utf-8-sig") as fh:
        return fh.read(256).lstrip()[:1] in ("{", "[")
