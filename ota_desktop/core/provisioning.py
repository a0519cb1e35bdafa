"""The per-product provisioning export: what each device needs to connect, as CSV or JSON.

Columns / keys: productID, deviceName, deviceSecret, mqttHost, mqttPort, baseUrl. The first
three columns are what ``ota-devsim --credentials`` always read, so the CSV works with older
tools too; the JSON form is ``{"format": ..., "productID": ..., "devices": [{...}, ...]}``.
Written off the GUI thread (:func:`write_provisioning` is a worker function).
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from typing import Any

from .dto import Device

FIELDS = ("productID", "deviceName", "deviceSecret", "mqttHost", "mqttPort", "baseUrl")
FORMAT = "ota-provisioning/1"


def provisioning_rows(devices: list[Device], mqtt_host: str, mqtt_port: int, base_url: str) -> list[dict[str, Any]]:
    return [{"productID": d.productID, "deviceName": d.deviceName, "deviceSecret": d.deviceSecret,
             "mqttHost": mqtt_host, "mqttPort": mqtt_port or "", "baseUrl": base_url} for d in devices]


def provisioning_text(rows: list[dict[str, Any]], fmt: str, product_id: str = "") -> str:
    if fmt == "json":
        return json.dumps({"format": FORMAT, "productID": product_id, "devices": rows}, ensure_ascii=False,
                          indent=2) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_provisioning(ctx, path: str, fmt: str, rows: list[dict[str, Any]], product_id: str = "") -> int:  # noqa: ANN001
    """Worker: write the export atomically (a temporary file, then rename), owner-only: it holds
    secrets. Returns the number of devices written."""
    text = provisioning_text(rows, fmt, product_id)
    ctx.check()
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".export-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return len(rows)
