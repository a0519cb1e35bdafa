"""The OTA rules in-process: a throw-away SQLite database, a fake clock, a recording outbound
port and event sink. What every in-process rule test builds on (milliseconds per test).

``World.engine()`` builds an engine the way the backend does; calling it again gives a fresh
engine over the same database (what a restarted backend builds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from backend.db.models import Base, Device, DeviceRecord, Firmware, FirmwareFile, Product, Task
from backend.db.session import Database
from backend.ota.engine import OtaEngine
from backend.ota.outages import OutageLog
from backend.ota.ports import Presence, ProgressAck, UpgradeOrder
from ota_protocol import messages as wire
from ota_protocol.task_options import TaskSpec

PID = "PRULES"
T0 = 1_700_000_000_000  # ms
MINUTE_S = 60.0


class Clock:
    """Milliseconds that move only when told."""

    def __init__(self, start: int = T0) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


class Recorder:
    """The outbound port and the event sink, recording what the engine sends."""

    def __init__(self) -> None:
        self.orders: list[UpgradeOrder] = []
        self.acks: list[ProgressAck] = []
        self.events: list[dict[str, Any]] = []

    def push(self, order: UpgradeOrder) -> None:
        self.orders.append(order)

    def ack(self, ack: ProgressAck) -> None:
        self.acks.append(ack)

    def publish_many(self, events: list[dict[str, Any]]) -> None:
        self.events.extend(events)

    def pushes(self, device: str | None = None) -> list[UpgradeOrder]:
        return [o for o in self.orders if device is None or o.device_name == device]

    def pushed_devices(self) -> list[str]:
        return [o.device_name for o in self.orders]

    def clear(self) -> None:
        self.orders.clear(), self.acks.clear(), self.events.clear()


class Signer:
    """Presigned URLs: a fresh one at every push (like the store's)."""

    def __init__(self) -> None:
        self.minted = 0

    def __call__(self, object_key: str) -> str:
        self.minted += 1
        return f"/api/v1/oss/ithings-private/{object_key}?X-Amz-Signature={self.minted:08d}"


@dataclass
class World:
    db: Database
    clock: Clock
    outages: OutageLog
    sent: Recorder = field(default_factory=Recorder)
    sign: Signer = field(default_factory=Signer)
    use_outages: bool = True

    def engine(self, dispatch_at_once: bool = True) -> OtaEngine:
        """``dispatch_at_once``: push right after a task is planned (what the backend's
        dispatcher thread does a moment later); False: only ``dispatch()``/``tick()`` push."""
        e = OtaEngine(self.db, self.sign, self.sent, outbound=self.sent, minute_seconds=MINUTE_S,
                      clock=self.clock, outages=self.outages if self.use_outages else None)
        if dispatch_at_once:
            e.on_planned = e.dispatch
        return e

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    # ---- setting up ---------------------------------------------------------------------
    def devices(self, count: int, version: str = "0.9.0", online: bool = True, prefix: str = "dev",
                product_id: str = PID) -> list[str]:
        names = [f"{prefix}{i:05d}" for i in range(1, count + 1)]
        with self.db.session() as s:
            s.add_all(Device(product_id=product_id, device_name=n, version=version, online=online,
                             device_secret="x", created_time=T0) for n in names)
        return names

    def firmware(self, version: str = "1.0.0", files: int = 1, product_id: str = PID, is_diff: int = 1,
                 sign_method: str = "md5") -> int:
        with self.db.session() as s:
            fw = Firmware(product_id=product_id, name=f"fw {version}", version=version, is_diff=is_diff,
                          sign_method=sign_method, desc="", ext_data="", created_time=T0,
                          files=[FirmwareFile(name=f"f{i}.bin", object_key=f"{product_id}/{version}/f{i}.bin",
                                              size=10 + i, md5=f"{i:032x}", sha256=f"{i:064x}")
                                 for i in range(files)])
            s.add(fw)
            s.flush()
            return fw.id

    def spec(self, firmware_id: int, **kw: Any) -> TaskSpec:
        return TaskSpec(firmware_id=firmware_id, **kw)

    # ---- reading ------------------------------------------------------------------------
    def record(self, device: str, task_id: int | None = None) -> DeviceRecord:
        with self.db.session() as s:
            q = select(DeviceRecord).where(DeviceRecord.device_name == device)
            if task_id is not None:
                q = q.where(DeviceRecord.task_id == task_id)
            rec = s.scalar(q.order_by(DeviceRecord.id.desc()))
            assert rec is not None, f"no record of {device}"
            return rec

    def records(self, task_id: int) -> list[DeviceRecord]:
        with self.db.session() as s:
            return list(s.scalars(select(DeviceRecord).where(DeviceRecord.task_id == task_id)
                                  .order_by(DeviceRecord.id)))

    def statuses(self, task_id: int) -> dict[str, int]:
        return {r.device_name: r.status for r in self.records(task_id)}

    def task(self, task_id: int) -> Task:
        with self.db.session() as s:
            task = s.get(Task, task_id)
            assert task is not None
            return task

    def device(self, name: str) -> Device:
        with self.db.session() as s:
            dev = s.scalar(select(Device).where(Device.device_name == name))
            assert dev is not None
            return dev


# ---- device messages --------------------------------------------------------------------------

def report(device: str, version: str, product_id: str = PID, token: str = "") -> wire.Report:
    return wire.Report(product_id=product_id, device_name=device, client_token=token, timestamp=0,
                       version=version, module="default", record_id=None)


def progress(rec: DeviceRecord, step: int, desc: str = "", timestamp: int = 0, token: str = "t") -> wire.Progress:
    return wire.Progress(product_id=rec.product_id, device_name=rec.device_name, client_token=token,
                         timestamp=timestamp, record_id=rec.id, step=step, desc=desc, module="default")


def presence(device: str, online: bool, product_id: str = PID) -> Presence:
    return Presence(product_id, device, online)


def new_world(path: str) -> World:
    db = Database(f"sqlite:///{path}")
    Base.metadata.create_all(db.engine)  # the schema the migrations build (checked by test_migrations)
    clock = Clock()
    world = World(db, clock, OutageLog(clock=lambda: clock.now / 1000))
    with db.session() as s:
        s.add(Product(product_id=PID, product_name="rules", created_time=T0))
    return world


@pytest.fixture
def world(tmp_path) -> World:
    w = new_world(str(tmp_path / "ota.db"))
    yield w
    w.db.dispose()
