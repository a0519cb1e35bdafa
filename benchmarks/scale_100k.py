"""Benchmark: the management API at 100,000 devices and 100,000 records.

Starts the real backend (embedded Mosquitto + object store; SQLite in a temporary data dir, or
``--database-url``), then:

1. imports N devices (default 100,000) in one ``device/info/import`` call and times the answer;
   separately, how long until the embedded broker accepts the last imported device's password
   (the broker's part: credentials files and reload);
2. creates a firmware and times an "all devices" ``task/create`` (planning N records; the pushes
   come after, on the dispatcher thread, and find the devices offline);
3. times index pages, first and last, with and without filters: ``device/info/index``
   (product, version, name substring) and ``task/device-index`` (record status) — the median of
   several requests each.

Baselines in the same run: the same page query (count + page) run straight on the database
(sqlite3 / psycopg, no ORM, no HTTP), and a trivial route through the same HTTP stack
(``product/info/read``: one row by primary key).

    .venv/bin/python benchmarks/scale_100k.py [--devices 100000] [--runs 3] [--database-url URL]
    .venv/bin/python benchmarks/scale_100k.py --quick      # 2,000 devices, one run
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _backend import BenchBackend  # noqa: E402
from _report import Figure, add_common_args, emit  # noqa: E402
from dispatch import wait_credentials  # noqa: E402

TOKEN = "bench-token"
PRODUCT = "bench"
OLD, TARGET, NEWER = "0.9.0", "1.0.0", "2.0.0"


def version_of(k: int) -> str:
    """Most devices on OLD; every 10th on 0.8.0 (a version filter that keeps 10%); every 100th
    newer than the target (its record fails at once: a status filter that keeps 1%)."""
    if k % 100 == 0:
        return NEWER
    return "0.8.0" if k % 10 == 0 else OLD


class Api:
    def __init__(self, base: str):
        self.http = httpx.Client(base_url=base, headers={"iThings-token": TOKEN}, timeout=600)

    def ok(self, path: str, body: dict) -> Any:
        r = self.http.post(path, json=body)
        d = r.json()
        if r.status_code != 200 or d.get("code") != 200:
            raise SystemExit(f"{path}: HTTP {r.status_code} {str(d)[:300]}")
        return d.get("data")

    def timed(self, path: str, body: dict) -> tuple[float, Any]:
        t = time.perf_counter()
        data = self.ok(path, body)
        return (time.perf_counter() - t) * 1000, data


class RawDb:
    """The page queries straight on the database: the floor under an index route."""

    def __init__(self, url: str, sqlite_path: Path):
        self.pg = url.startswith("postgresql")
        if self.pg:
            import psycopg
            self.conn: Any = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
        else:
            self.conn = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True, check_same_thread=False)

    def page(self, table: str, where: str, args: tuple, offset: int, size: int) -> float:
        ph = "%s" if self.pg else "?"
        where = where.replace("?", ph)
        t = time.perf_counter()
        cur = self.conn.cursor()
        cur.execute(f"SELECT count(*) FROM {table} WHERE {where}", args)
        cur.fetchone()
        cur.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY id LIMIT {size} OFFSET {offset}", args)
        cur.fetchall()
        return (time.perf_counter() - t) * 1000

    def close(self) -> None:
        self.conn.close()


def page_figures(api: Api, raw: RawDb, label: str, route: str, table: str, body: dict, where: tuple[str, tuple],
                 ps: int, n: int, requests: int) -> list[Figure]:
    """First and last page of one index query: HTTP (median of ``requests``) and the same query
    straight on the database; the last page is checked to hold what the total says."""
    total = api.ok(route, {**body, "page": {"page": 1, "size": 1}})["total"]
    last_page = max(1, -(-total // ps))
    out = []
    for which, page in (("first", 1), ("last", last_page)):
        req = {**body, "page": {"page": page, "size": ps}}
        got = api.ok(route, req)
        if page == last_page and len(got["list"]) != total - (last_page - 1) * ps:
            raise SystemExit(f"{route} {body}: the last page has {len(got['list'])} rows, total {total}")
        ms = median_ms(lambda req=req: api.timed(route, req)[0], requests)  # type: ignore[misc]
        offset = (page - 1) * ps
        raw_ms = median_ms(lambda o=offset: raw.page(table, where[0], where[1], o, ps), requests)  # type: ignore[misc]
        filters = ", ".join(f"{k}={v}" for k, v in body.items() if k != "taskUid") or "task"
        out.append(Figure(f"{label} {which} page ({filters})", f"{total:,} of {n:,} rows, size {ps}", ms, "ms",
                          goal="< 50 ms", met=statistics.median(ms) < 50,
                          baseline="plain count + LIMIT/OFFSET, sqlite3/psycopg", baseline_runs=raw_ms))
    return out


def median_ms(fn: Callable[[], float], n: int) -> list[float]:
    fn()  # warm: the first request of a kind pays for imports and plans
    return [fn() for _ in range(n)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=100_000)
    ap.add_argument("--page-size", type=int, default=20)
    ap.add_argument("--requests", type=int, default=7, help="requests per page figure (the median counts)")
    ap.add_argument("--database-url", default="", help="PostgreSQL, e.g. postgresql+psycopg://ota@127.0.0.1/ota")
    ap.add_argument("--deadline", type=float, default=300.0, help="seconds to wait for the backend and the broker")
    add_common_args(ap, runs=1)
    args = ap.parse_args()
    n = 2000 if args.quick else args.devices
    runs = 1 if args.quick else args.runs
    requests = 3 if args.quick else args.requests
    if n > 100_000:
        raise SystemExit("one import holds at most 100,000 devices")

    tmp = Path(tempfile.mkdtemp(prefix="ota-scale-"))
    bench = BenchBackend(tmp, TOKEN, database_url=args.database_url, deadline=args.deadline)
    base, mqtt_port, data = bench.base, bench.mqtt_port, tmp / "data"
    api: Api | None = None
    raw: RawDb | None = None
    figures: list[Figure] = []
    size = f"{n:,} devices"
    try:
        api = Api(base)

        # ---- 1. import (one call per run; each run a product of its own) --------------------
        t_import: list[float] = []
        t_broker: list[float] = []
        for run in range(runs):
            product = PRODUCT if run == 0 else f"{PRODUCT}{run}"
            api.ok("/api/v1/things/product/info/create", {"productID": product, "productName": product})
            devices = [{"deviceName": f"dev{k:06d}", "version": version_of(k)} for k in range(1, n + 1)]
            t = time.perf_counter()
            listed = api.ok("/api/v1/things/device/info/import", {"productID": product, "devices": devices})["list"]
            t_import.append(time.perf_counter() - t)
            last = listed[-1]
            # the broker's part: until it accepts the last device's password (after the answer)
            wait_credentials(mqtt_port, last["deviceName"], last["deviceSecret"], args.deadline)
            t_broker.append(time.perf_counter() - t)
            print(f"run {run + 1}: import {t_import[-1]:.2f} s, broker accepts the last one at {t_broker[-1]:.2f} s",
                  flush=True)
        figures.append(Figure("device import (one call)", size, t_import, "s", goal="< 60 s",
                              met=statistics.median(t_import) < 60))
        figures.append(Figure("device import → broker accepts the last password", size, t_broker[:1], "s",
                              note="from the import request; the broker's own part"))

        # ---- 2. all-devices task create ----------------------------------------------------
        files = []
        for name, fsize in (("xx.zip", 16600),):
            d = api.ok("/api/v1/system/common/upload-url/create",
                       {"business": "productManage", "scene": "ota", "filePath": f"bench/{name}", "rename": True})
            if api.http.put(d["uploadUri"], content=os.urandom(fsize)).status_code != 200:
                raise SystemExit("upload failed")
            files.append({"filePath": d["filePath"], "name": name})
        fw = api.ok("/api/v1/things/ota/firmware/create", {"name": "bench", "productID": PRODUCT,
                                                            "version": TARGET, "files": files})["firmwareID"]
        t_create: list[float] = []
        task: dict = {}
        for run in range(runs):
            if task:  # the previous run's task: cancelled, so its devices are free again
                api.ok("/api/v1/things/ota/task/cancel", {"taskID": task["taskID"]})
            t = time.perf_counter()
            task = api.ok("/api/v1/things/ota/task/create", {"firmwareID": fw, "type": 1, "upgradeType": 1})
            t_create.append(time.perf_counter() - t)
            print(f"run {run + 1}: task create {t_create[-1]:.2f} s", flush=True)
        figures.append(Figure("task/create, all devices (answer)", f"{n:,} records", t_create, "s", goal="< 5 s",
                              met=statistics.median(t_create) < 5))

        # ---- 3. index pages ------------------------------------------------------------------
        raw = RawDb(args.database_url, data / "ota.db")
        ps = args.page_size
        uid = task["taskUid"]
        http_base = median_ms(lambda: api.timed("/api/v1/things/product/info/read", {"productID": PRODUCT})[0],
                              requests)
        dev_pages: list[tuple[dict, str, tuple]] = [  # (request filters, raw WHERE, raw arguments)
            ({"productID": PRODUCT}, "product_id = ?", (PRODUCT,)),
            ({"productID": PRODUCT, "version": "0.8.0"}, "product_id = ? AND version = ?", (PRODUCT, "0.8.0")),
            ({"productID": PRODUCT, "deviceName": "99"}, "product_id = ? AND device_name LIKE ?", (PRODUCT, "%99%")),
        ]
        rec_pages: list[tuple[dict, str, tuple]] = [
            ({"taskUid": uid}, "task_uid = ?", (uid,)),
            ({"taskUid": uid, "status": 601}, "task_uid = ? AND status = ?", (uid, 601)),
            ({"taskUid": uid, "status": 202}, "task_uid = ? AND status = ?", (uid, 202)),
        ]
        for label, route, table, pages in (("device index", "/api/v1/things/device/info/index", "device", dev_pages),
                                           ("record index", "/api/v1/things/ota/task/device-index", "device_record",
                                            rec_pages)):
            for body, where, wargs in pages:
                figures += page_figures(api, raw, label, route, table, body, (where, wargs), ps, n, requests)
        figures.append(Figure("HTTP round trip, product/info/read", "1 row", http_base, "ms"))
        emit(figures, args.json)
        return 0 if all(f.met is not False for f in figures) else 1
    finally:
        if raw is not None:
            raw.close()
        if api is not None:
            api.http.close()
        bench.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
