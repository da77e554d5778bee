"""The campaign file: schema and cross-checks with file:line errors; slots of schedules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from monitor_testkit import write_campaign

from conformance._core.errors import InputError
from conformance.monitor.campaign import Schedule, load_campaign
from conformance.monitor.scheduler import latest_slot, slots_between

DECL = Path(__file__).parents[1] / "fixtures" / "declarations" / "valid" / "candidate.yaml"


def _decl(_tmp_path: Path) -> Path:
    return DECL


def test_valid_campaign_loads(tmp_path: Path) -> None:
    c = load_campaign(write_campaign(tmp_path / "m.yaml", _decl(tmp_path)))
    assert c.name == "test" and c.prober == "p1" and c.schedule.every_s == 60
    assert c.targets[0].api_key_env == "TOKENCERT_MONITOR_TEST_KEY"
    assert [s.parallel for s in c.scenarios] == [1, 2]


def test_errors_are_located(tmp_path: Path) -> None:
    decl = _decl(tmp_path)
    path = write_campaign(tmp_path / "m.yaml", decl, parallel=65,
                          extra="schedul: {cron: '0 */3 * * *'}\n")
    with pytest.raises(InputError) as exc:
        load_campaign(path)
    text = exc.value.render()
    assert f"{path}:14:1" in text and "did you mean 'schedule'" in text
    path = write_campaign(tmp_path / "m.yaml", decl, parallel=65)
    with pytest.raises(InputError) as exc:
        load_campaign(path)
    text = exc.value.render()
    assert f"{path}:11:" in text and "max_concurrency 64" in text  # inside declared limits
    bad = (tmp_path / "m.yaml").read_text().replace("{every_s: 60}", "{cron: '61 * * * *'}")
    (tmp_path / "m.yaml").write_text(bad.replace("parallel: 65", "parallel: 2"))
    with pytest.raises(InputError) as exc:
        load_campaign(tmp_path / "m.yaml")
    assert "not a crontab expression" in exc.value.render()


def test_slots() -> None:
    now = datetime(2026, 12, 5, 13, 59, tzinfo=UTC)
    three_h = Schedule(cron="0 */3 * * *")
    assert latest_slot(three_h, now) == datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    weekly = Schedule(cron="0 0 * * 1")  # Mondays
    assert latest_slot(weekly, now) == datetime(2026, 11, 30, tzinfo=UTC)
    assert latest_slot(Schedule(cron="0 0 * * 0"), now) == datetime(2026, 11, 29, tzinfo=UTC)
    assert latest_slot(Schedule(cron="0 0 * * 1-5"), now) == datetime(2026, 12, 4, tzinfo=UTC)
    missed = slots_between(three_h, now - timedelta(hours=10), latest_slot(three_h, now))
    assert missed == [datetime(2026, 12, 5, h, tzinfo=UTC) for h in (6, 9)]
    every = Schedule(every_s=7)
    s = latest_slot(every, now)
    assert s <= now < s + timedelta(seconds=7)
    assert slots_between(every, s - timedelta(seconds=21), s) == [
        s - timedelta(seconds=14), s - timedelta(seconds=7)]
