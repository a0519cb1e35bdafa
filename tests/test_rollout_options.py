"""Rollout options (ota_protocol.rollout): parsing names the bad field, wave sizes, abort rules and
the maintenance window. Pure functions: milliseconds."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ota_protocol.rollout import (
    SAFE_PRESET,
    AbortRule,
    RolloutError,
    Wave,
    abort_reason,
    assign_waves,
    in_window,
    next_window_ms,
    parse,
    wave_sizes,
)


def ms(text: str, zone: str = "UTC") -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp() * 1000)


def test_the_wire_form_round_trips():
    wire = {"waves": [{"percent": 1}, {"count": 50}, {"percent": 100}], "advanceAtSuccessPercent": 95,
            "soakMinutes": 30, "manualAdvance": True,
            "abort": [{"failureType": "TIMED_OUT", "thresholdPercent": 5, "minFinished": 10}],
            "maintenanceWindow": {"start": "22:00", "durationMinutes": 240, "timeZone": "Asia/Shanghai"}}
    assert parse(wire).to_wire() == wire
    assert parse(None).empty and parse({}).empty
    assert parse(SAFE_PRESET.to_wire()) == SAFE_PRESET


@pytest.mark.parametrize(("wire", "field"), [
    ([], "rollout"),
    ({"wave": []}, "rollout.wave"),
    ({"waves": {"percent": 1}}, "rollout.waves"),
    ({"waves": [{"percent": 0}]}, "rollout.waves[0].percent"),
    ({"waves": [{"percent": 10}, {"percent": 101}]}, "rollout.waves[1].percent"),
    ({"waves": [{"percent": 10, "count": 3}]}, "rollout.waves[0]"),
    ({"waves": [{}]}, "rollout.waves[0]"),
    ({"waves": [{"count": "5"}]}, "rollout.waves[0].count"),
    ({"waves": [{"count": True}]}, "rollout.waves[0].count"),
    ({"waves": [{"percent": 1}] * 21}, "rollout.waves"),
    ({"advanceAtSuccessPercent": 120}, "rollout.advanceAtSuccessPercent"),
    ({"soakMinutes": -1}, "rollout.soakMinutes"),
    ({"manualAdvance": "yes"}, "rollout.manualAdvance"),
    ({"abort": [{"failureType": "BROKEN", "thresholdPercent": 5}]}, "rollout.abort[0].failureType"),
    ({"abort": [{"failureType": "ANY"}]}, "rollout.abort[0].thresholdPercent"),
    ({"abort": [{"thresholdPercent": 5, "minFinished": 0}]}, "rollout.abort[0].minFinished"),
    ({"maintenanceWindow": {"start": "24:00", "durationMinutes": 60}}, "rollout.maintenanceWindow.start"),
    ({"maintenanceWindow": {"start": "7:00", "durationMinutes": 60}}, "rollout.maintenanceWindow.start"),
    ({"maintenanceWindow": {"start": "07:00"}}, "rollout.maintenanceWindow.durationMinutes"),
    ({"maintenanceWindow": {"start": "07:00", "durationMinutes": 1441}}, "rollout.maintenanceWindow.durationMinutes"),
    ({"maintenanceWindow": {"start": "07:00", "durationMinutes": 60, "timeZone": "Mars/Olympus"}},
     "rollout.maintenanceWindow.timeZone"),
    ({"maintenanceWindow": {"start": "07:00", "durationMinutes": 60, "timeZone": "../../etc/passwd"}},
     "rollout.maintenanceWindow.timeZone"),
])
def test_a_bad_option_names_its_field(wire, field):
    with pytest.raises(RolloutError) as err:
        parse(wire)
    assert err.value.field == field
    assert str(err.value).startswith(field + ": ")


def test_wave_sizes_round_up_and_the_last_wave_takes_the_rest():
    pct = [Wave(percent=1), Wave(percent=10), Wave(percent=100)]
    assert wave_sizes(200, pct) == [2, 20, 178]
    assert wave_sizes(1000, pct) == [10, 100, 890]
    assert wave_sizes(5, pct) == [1, 1, 3]  # at least one device per wave while there are any
    assert wave_sizes(1, pct) == [1, 0, 0]
    assert wave_sizes(0, pct) == [0, 0, 0]
    assert wave_sizes(100, [Wave(count=10), Wave(count=500), Wave(percent=5)]) == [10, 90, 0]
    assert wave_sizes(7, []) == [7]
    assert assign_waves(["a", "b", "c", "d", "e"], pct) == [0, 1, 2, 2, 2]


def test_abort_waits_for_enough_finished_devices_then_counts_the_failure_type():
    rules = [AbortRule("FAILED", 10, 20)]
    assert abort_reason(rules, finished=19, failed=19, timed_out=0) is None  # too few finished yet
    assert abort_reason(rules, finished=20, failed=1, timed_out=5) is None  # timeouts are not FAILED
    reason = abort_reason(rules, finished=20, failed=2, timed_out=0)
    assert reason is not None and "2 of 20" in reason and "10%" in reason
    assert abort_reason([AbortRule("TIMED_OUT", 25, 4)], finished=4, failed=3, timed_out=1) is not None
    assert abort_reason([AbortRule("ANY", 50, 1)], finished=4, failed=1, timed_out=1) is not None
    assert abort_reason([AbortRule("ANY", 50, 1)], finished=4, failed=1, timed_out=0) is None
    assert abort_reason([], finished=100, failed=100, timed_out=0) is None


def test_maintenance_window_across_midnight_in_the_devices_time_zone():
    w = parse({"maintenanceWindow": {"start": "22:00", "durationMinutes": 240, "timeZone": "Asia/Shanghai"}}).window
    assert not in_window(w, ms("2026-12-03T21:59:00", "Asia/Shanghai"))
    assert in_window(w, ms("2026-12-03T22:00:00", "Asia/Shanghai"))
    assert in_window(w, ms("2026-12-04T01:59:59", "Asia/Shanghai"))  # yesterday's window, after midnight
    assert not in_window(w, ms("2026-12-04T02:00:00", "Asia/Shanghai"))
    assert next_window_ms(w, ms("2026-12-04T02:00:00", "Asia/Shanghai")) == ms("2026-12-04T22:00:00", "Asia/Shanghai")
    assert next_window_ms(w, ms("2026-12-03T23:00:00", "Asia/Shanghai")) == ms("2026-12-03T23:00:00", "Asia/Shanghai")
    assert in_window(None, 0)
