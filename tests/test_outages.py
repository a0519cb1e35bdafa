"""The outage log the engine consults before counting a device failure against a task."""

from backend.ota.outages import STORE, OutageLog


def test_failure_during_or_shortly_after_an_outage_is_covered() -> None:
    now = [1000.0]
    log = OutageLog(clock=lambda: now[0])
    assert log.covers(1000.0) is None and log.healthy()
    log.begin(STORE, "connection refused")
    assert not log.healthy() and log.covers(1001.0).kind == STORE
    now[0] = 1010.0
    log.end(STORE)
    assert log.healthy()
    assert log.covers(1100.0, grace_s=120).kind == STORE      # 90 s after it ended
    assert log.covers(1200.0, grace_s=120) is None            # long after
    assert log.covers(500.0, grace_s=120) is None             # long before


def test_momentary_outages() -> None:
    now = [50.0]
    log = OutageLog(clock=lambda: now[0])
    log.note("proxy-5xx", "502 object store unreachable")
    assert log.healthy() and log.covers(60.0, grace_s=30).kind == "proxy-5xx"
    assert log.covers(100.0, grace_s=30) is None


def test_an_outage_over_before_the_push_is_skipped_for_an_earlier_one_that_was_not() -> None:
    now = [100.0]
    log = OutageLog(clock=lambda: now[0])
    log.note("backend-start")          # t=100: the push at t=90 failed while we were down
    now[0] = 110.0
    log.note("proxy-5xx", "a blip")   # t=110: after the push, unrelated to it... but newest
    assert log.covers(115.0).kind == "proxy-5xx"
    assert log.covers(115.0, since=90.0).kind == "proxy-5xx"   # still not over before the push
    assert log.covers(115.0, since=105.0).kind == "proxy-5xx"
    assert log.covers(115.0, since=112.0) is None              # both over before a push at 112
