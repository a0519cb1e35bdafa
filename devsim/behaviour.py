"""What a simulated device does when it is pushed an upgrade.

A behaviour is a name such as ``fail-flash``; the suffix ``-once`` makes it misbehave on
the first push only and succeed on every later push (a retry), so retry paths can be
tested end to end. :func:`assign` spreads a percentage mix over a fleet deterministically.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SUCCEED = "succeed"
FAIL_DOWNLOAD = "fail-download"
FAIL_VERIFY = "fail-verify"
FAIL_FLASH = "fail-flash"
SILENT = "silent"
DISCONNECT = "disconnect"
CORRUPT = "corrupt"

#: Base behaviours and what they do with a push.
KINDS: dict[str, str] = {
    SUCCEED: "download, verify, flash, report the new version",
    FAIL_DOWNLOAD: "abort the download half-way and report step -2",
    FAIL_VERIFY: "download everything, then report step -3",
    FAIL_FLASH: "download and verify, report 90, then report step -4",
    SILENT: "receive the push and never answer (the backend times out)",
    DISCONNECT: "drop the MQTT connection mid-download, reconnect, report, resume with Range, succeed",
    CORRUPT: "hash wrong bytes, so the real digest check fails and step -3 is reported",
}

#: Behaviours that a ``-once`` suffix or ``--fail-once`` turns into first-attempt-only.
ONCE_ABLE = frozenset({FAIL_DOWNLOAD, FAIL_VERIFY, FAIL_FLASH, SILENT, CORRUPT})


@dataclass(frozen=True)
class Behaviour:
    kind: str
    once: bool = False

    @classmethod
    def parse(cls, name: str) -> Behaviour:
        name = name.strip().lower()
        once = name.endswith("-once")
        kind = name[: -len("-once")] if once else name
        if kind not in KINDS:
            raise ValueError(f"unknown behaviour {name!r}; known: {', '.join(names())}")
        if once and kind not in ONCE_ABLE:
            raise ValueError(f"behaviour {kind!r} has no -once variant")
        return cls(kind, once)

    def for_attempt(self, attempt: int) -> str:
        """The base behaviour for the ``attempt``-th push handled (1-based)."""
        if self.once and attempt > 1:
            return SUCCEED
        return self.kind

    def with_once(self) -> Behaviour:
        return Behaviour(self.kind, True) if self.kind in ONCE_ABLE else self

    @property
    def name(self) -> str:
        return f"{self.kind}-once" if self.once else self.kind

    def __str__(self) -> str:
        return self.name


def names() -> list[str]:
    return list(KINDS) + sorted(f"{k}-once" for k in ONCE_ABLE)


def parse_mix(text: str) -> dict[str, float]:
    """``"succeed=90,fail-download=5,silent=5"`` -> ``{name: weight}`` (weights need not sum to 100)."""
    mix: dict[str, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, weight = part.partition("=")
        if not sep:
            raise ValueError(f"behaviour mix entry {part!r} is not NAME=PERCENT")
        Behaviour.parse(name)
        try:
            w = float(weight)
        except ValueError:
            raise ValueError(f"behaviour mix entry {part!r}: {weight!r} is not a number") from None
        if w < 0:
            raise ValueError(f"behaviour mix entry {part!r}: negative weight")
        mix[name.strip().lower()] = mix.get(name.strip().lower(), 0.0) + w
    if mix and sum(mix.values()) <= 0:
        raise ValueError("behaviour mix has no positive weight")
    return mix


def assign(
    device_names: Sequence[str],
    mix: Mapping[str, float] | None = None,
    overrides: Mapping[str, str] | None = None,
    seed: int = 0,
    fail_once: bool = False,
) -> dict[str, Behaviour]:
    """Give every device a behaviour.

    Counts follow the mix exactly (largest remainder rounding), the order is a shuffle seeded
    by ``seed`` (same inputs, same assignment), and ``overrides`` (per device name) win.
    Without a mix every device succeeds.
    """
    n = len(device_names)
    mix = dict(mix or {SUCCEED: 100.0})
    total = sum(mix.values())
    quotas = [(name, w * n / total) for name, w in mix.items()]
    counts = {name: int(q) for name, q in quotas}
    left = n - sum(counts.values())
    for name, _q in sorted(quotas, key=lambda nq: (-(nq[1] - int(nq[1])), nq[0]))[:left]:
        counts[name] += 1
    pool = [name for name, _ in quotas for _ in range(counts[name])]
    random.Random(seed).shuffle(pool)
    result = {}
    for dev, name in zip(device_names, pool, strict=True):
        result[dev] = Behaviour.parse(name)
    for dev, name in (overrides or {}).items():
        if dev not in result:
            raise ValueError(f"behaviour override names a device that is not simulated: {dev!r}")
        result[dev] = Behaviour.parse(name)
    if fail_once:
        result = {dev: b.with_once() for dev, b in result.items()}
    return result
