"""Device fleet simulator: the device side of the OTA protocol, thousands of devices in one process.

Command line: ``ota-devsim --product P --count N --token T [--create] ...`` (``--help``).

Python API (what the backend's end-to-end tests and benchmarks use)::

    from devsim import Fleet, Credential, SimOptions

    fleet = Fleet(
        [Credential("26wrGK4KbrW", "dev00001", "secret"), ...],  # or Fleet.from_backend(...)
        version="0.9.0",
        mqtt_url="mqtt://127.0.0.1:1883",
        base_url="http://127.0.0.1:7777",         # relative file URLs resolve against it
        mix={"succeed": 90, "fail-flash": 10},     # optional, seeded deterministic assignment
        behaviours={"dev00002": "fail-flash-once"},  # optional per-device overrides
        options=SimOptions(flash_seconds=0.1),
    )
    with fleet:                                    # start() ... stop()
        fleet.wait_connected(timeout=60)           # every device reported its version
        ...                                        # create the upgrade task
        fleet.wait_until(lambda f: f.counts()["succeeded"] == len(f), timeout=120)
        dev = fleet.device("dev00001")
        dev.version, dev.status, dev.outcome       # "1.0.0", "succeeded", "succeeded"
        dev.pushes[-1].record_id                   # every push received (UpgradePush)
        dev.files[0].verified, dev.files[0].resumed  # per file: bytes, size/digest checks, Range
        dev.steps(record_id)                       # progress steps sent, e.g. [25, 50, 75, 90, 100]
        fleet.summary()                            # counts, timings, fail steps, RSS (a dict)

``Fleet.from_backend(base_url, token, product_id, count, prefix="dev", create=True, ...)`` fetches
the secrets through ``device/info/index`` (and imports missing devices first with ``create``).

A device (``device.Device``) connects with username ``{p}&{d}`` / password = its secret /
client id ``{p}&{d}``, subscribes (QoS 1) to ``$ota/down/upgrade/{p}/{d}`` and
``$ota/down/progress/{p}/{d}``, then reports its version on ``$ota/up/report/{p}/{d}``. On an
upgrade push it downloads every file (HTTP GET, hashed on the fly, resumed with ``Range``),
checks size and ``signMethod`` digest, reports steps 25/50/75 "downloading", 90 "flashing",
waits ``flash_seconds``, reports 100, takes ``data.version`` and reports it with
``"id": data.id``. Failures report -2 (download), -3 (verify), -4 (flash). Behaviours
(``behaviour.KINDS``): succeed, fail-download, fail-verify, fail-flash, silent, disconnect,
corrupt; ``-once`` variants (or ``fail_once=True``) fail only the first push so retries
succeed. A second push for the record being worked on only refreshes its URLs; a push
after a failure starts a new attempt; a push for another record supersedes the running
one. Uplink messages are QoS 1 (at least once): after a drop the broker may see a
publish twice, with the same ``clientToken``. ``status`` "downloading" includes downloads
waiting for a free worker.

Design for 10,000 devices in one process:

* MQTT: one :class:`reactor.Reactor` thread drives every paho client through an epoll
  selector (paho's external-loop callbacks ``on_socket_*`` + ``loop_read/loop_write/
  loop_misc``): no thread and only one file descriptor per device; keep-alives are
  serviced a tenth of the clients at a time. All MQTT calls happen on that thread; other
  threads hand work over with ``call_soon``/``call_later`` (flashing is a timer, not a
  sleeping thread). A :class:`links.ConnectGate` keeps at most ``connect_concurrency``
  handshakes in flight so the broker's listen backlog never overflows.
* ``shared_connections=K``: K connections with the privileged account of ``mqtt_url``
  subscribe to each device's down topics (100 filters per SUBSCRIBE) and publish for them;
  the ``disconnect`` behaviour then only simulates the drop.
* HTTP: a bounded pool of ``download_workers`` threads sharing one ``httpx.Client``;
  nothing is written to disk.
* Per-device state is plain attributes written by the reactor/download threads and safe
  to read from any thread; ``Fleet.counts()`` is O(devices).
"""

from ota_protocol.device import UpgradePush

from .behaviour import Behaviour
from .credentials import Credential, device_names, fetch_from_backend, load_csv
from .device import Attempt, Device
from .download import FileTransfer
from .fleet import Fleet, SimOptions

__all__ = [
    "Attempt",
    "Behaviour",
    "Credential",
    "Device",
    "FileTransfer",
    "Fleet",
    "SimOptions",
    "UpgradePush",
    "device_names",
    "fetch_from_backend",
    "load_csv",
]
