"""A `[schedule.NAME]` table as APScheduler triggers, and the slot a run belongs to.

Every node must compute the same fire times and the same slot for a moment, with no
coordination: interval schedules count from one fixed anchor instant, and a slot is the
latest fire time (without jitter) at or before the moment.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from hub.clock import as_utc
from hub.config import ScheduleSection, parse_duration

#: Interval schedules count from this instant, so every node computes the same fire times.
ANCHOR = datetime(2020, 1, 1, tzinfo=UTC)


def trigger_for(schedule: ScheduleSection) -> IntervalTrigger | CronTrigger:
    """The APScheduler trigger of one ``[schedule.NAME]`` table."""
    zone = ZoneInfo(schedule.timezone)
    jitter = int(parse_duration(schedule.jitter).total_seconds()) if schedule.jitter else None
    if schedule.every is not None:
        return IntervalTrigger(seconds=int(parse_duration(schedule.every).total_seconds()),
                               start_date=ANCHOR, timezone=zone, jitter=jitter)
    assert schedule.cron is not None
    trigger = CronTrigger.from_crontab(schedule.cron, timezone=zone)
    trigger.jitter = jitter
    return trigger


def current_slot(schedule: ScheduleSection, now: datetime) -> datetime:
    """The latest fire time at or before `now` (without jitter): the slot a run belongs to."""
    if schedule.every is not None:
        interval = parse_duration(schedule.every)
        return ANCHOR + interval * ((now - ANCHOR) // interval)
    assert schedule.cron is not None
    trigger = CronTrigger.from_crontab(schedule.cron, timezone=ZoneInfo(schedule.timezone))
    for lookback in (timedelta(hours=1), timedelta(days=1), timedelta(days=8),
                     timedelta(days=32), timedelta(days=367)):
        fire = trigger.get_next_fire_time(None, now - lookback)
        if fire is None or fire > now:
            continue
        while True:
            following = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
            if following is None or following > now:
                return as_utc(fire) or fire
            fire = following
    return now  # a schedule firing less than once a year: the run is its own slot
