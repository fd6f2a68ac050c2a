"""The campaign's clock and the house formats of dates, times and phones."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

# The campaign's days are Vietnam's days: a check-in at 23:30 local time counts for that date.
LOCAL_TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(LOCAL_TIMEZONE).date()
