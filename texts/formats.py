"""The campaign's clock, and the house formats: a time, a day and a phone number written one way
wherever people read them (chat, web pages, Excel titles, the terminal table, the loudspeaker script).

The numbers are put together here; the words around them ("lúc", "ngày", the weekdays' names) are
content (content/vi/formats.toml), and the renderer (texts.content) joins the two for every value
of a Text. Numbers and percentages are Babel's vi_VN, also in the renderer: 82.930; 47,59%.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

# The campaign's days are Vietnam's days: a check-in at 23:30 local time counts for that date.
LOCAL_TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")

# The content keys of the weekdays (formats.weekdays.<name>), Monday first as date.weekday() counts.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(LOCAL_TIMEZONE).date()


def local_moment(moment: dt.datetime) -> dt.datetime:
    """`moment` in Vietnam's time. A naive one is a stored time, and stored times are UTC."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(LOCAL_TIMEZONE)


def clock(moment: dt.datetime | dt.time) -> str:
    """ "13:17": hours and minutes, 24-hour; a datetime in Vietnam's time."""
    shown = local_moment(moment) if isinstance(moment, dt.datetime) else moment
    return f"{shown.hour:02d}:{shown.minute:02d}"


def padded_date(day: dt.date) -> str:
    """ "06/12/2026": the date of a moment (a time of day stands before it), day and month padded."""
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def plain_date(day: dt.date) -> str:
    """ "6/12/2026": a day as people write it, nothing padded but the four-digit year."""
    return f"{day.day}/{day.month}/{day.year:04d}"


def spoken_date(day: dt.date) -> dict[str, str]:
    """The numbers of a day read aloud (formats.spoken_date: "ngày 6 tháng 12 năm 2026"): no
    slashes for an announcer to guess at, nothing padded."""
    return {"day": str(day.day), "month": str(day.month), "year": str(day.year)}


def weekday(day: dt.date) -> str:
    """The content key's last part for the day's weekday: "sunday" (formats.weekdays.sunday)."""
    return WEEKDAYS[day.weekday()]


_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
# Vietnamese mobiles: 0 and nine digits, 03x 05x 07x 08x 09x. Landlines with a two-digit area code
# (024 Hanoi, 028 Ho Chi Minh City): 0, the code and eight digits. Other landlines have
# three-digit codes written more than one way, so they are left as they were written.
_MOBILE = re.compile(r"0[35789]\d{8}")
_LANDLINE = re.compile(r"02[48]\d{8}")


def phone(text: str) -> str:
    """A phone number as people write it: "+84912345678" → "0912 345 678" (4-3-3),
    "02438253536" → "024 3825 3536" (3-4-4). Anything else (a foreign number, one with an
    extension) is shown as it was written."""
    digits = _PHONE_SEPARATORS.sub("", text)
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    if digits.isascii() and _MOBILE.fullmatch(digits):
        return f"{digits[:4]} {digits[4:7]} {digits[7:]}"
    if digits.isascii() and _LANDLINE.fullmatch(digits):
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    return text
