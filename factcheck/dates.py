"""Date mentions in Chinese and English text, resolved to the range of days each one covers.

``extract_dates(text, reference)`` finds absolute dates (2023年7月31日, 二〇二三年七月, 2023-07-31, 7/31/2023,
"July 31, 2023", "31 July 2023", "in 2019") and relative ones (昨天, 上个月, 去年冬天, 近日, "last week",
"earlier this month"), and returns one :class:`DateMention` per mention, in text order, never overlapping
(the longest reading wins: 2023年7月31日 is one mention, not three).

Resolution and the reference date
- A mention is ``relative`` when its meaning depends on ``reference`` (usually the post's date): 昨天, 上周,
  今年7月, and also a month or day written without a year (7月31日, "in March"), which takes the year that
  puts it closest to the reference.
- With ``reference=None`` relative mentions are *left out*, not returned half-filled: every returned mention
  has real ``start``/``end`` dates, so callers never test for a missing value. Call again with a reference to
  get them.
- ``start``/``end`` are inclusive. A day covers one day, a month or year its whole length, a week Monday to
  Sunday, a season three months (冬 = December to February, so 去年冬天 said in 2024 is 2023-12-01..2024-02-29),
  近日/日前/"in recent days" the ``RECENT_WINDOW_DAYS`` days up to the reference.

Precision over recall: a number is read as a date only in a date-shaped context. 23年 needs a month after it
(23年7月), a bare year needs 年 or an English preposition ("in 2019"), a year-less numeric date (7/31) is not
read at all (fractions, scores), and counts (三年级, 7个月, 5G, 3.5亿元, 15%, phone numbers, 下午3点) are never dates.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

Granularity = Literal["day", "week", "month", "season", "year"]

# What 近日 / 日前 / 近期 / "in recent days" cover, counting back from the reference. It defines the words,
# it is not a tuning knob, so it lives here rather than in Settings.
RECENT_WINDOW_DAYS = 7
# Four-digit years outside this range are numbers, not years (order numbers, amounts).
MIN_YEAR, MAX_YEAR = 1900, 2099


@dataclass(frozen=True)
class DateMention:
    text: str
    span: tuple[int, int]
    start: date
    end: date
    granularity: Granularity
    relative: bool


# ---------------------------------------------------------------------------------------------- numbers
_ZH_DIGIT = {"〇": 0, "○": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_NUM_CHARS = "〇○零一二两三四五六七八九十"

# Full-width digits and date punctuation map one-to-one onto ASCII, so spans stay valid in the original text.
_FULLWIDTH = {**{0xFF10 + i: ord("0") + i for i in range(10)}, 0xFF0F: ord("/"), 0xFF0D: ord("-"), 0xFF0E: ord("."), 0xFF0C: ord(","), 0x3000: ord(" ")}


def _zh_int(s: str) -> int:
    """A small number written in digits or Chinese numerals (一 .. 九十九, 二〇二三 read digit by digit)."""
    if s.isdigit():
        return int(s)
    if "十" not in s:
        return int("".join(str(_ZH_DIGIT[c]) for c in s))
    tens, _, units = s.partition("十")
    return (_ZH_DIGIT[tens] if tens else 1) * 10 + (_ZH_DIGIT[units] if units else 0)


_EN_NUM = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}


def _en_int(s: str) -> int:
    return int(s) if s.isdigit() else _EN_NUM[s.lower()]


# ---------------------------------------------------------------------------------------------- calendar
def _month_end(y: int, m: int) -> date:
    return date(y, m, calendar.monthrange(y, m)[1])


def _shift_month(y: int, m: int, delta: int) -> tuple[int, int]:
    n = y * 12 + (m - 1) + delta
    return n // 12, n % 12 + 1


def _week_of(d: date) -> tuple[date, date]:
    monday = d - timedelta(days=d.weekday())
    return monday, monday + timedelta(days=6)


def _nearest_year(month: int, day: int | None, ref: date) -> int:
    """The year that puts a year-less month (or month-day) closest to the reference: 12月28日 said on 1 January
    is last December, 1月3日 said on 30 December is next January."""
    def distance(y: int) -> int:
        if day is None:
            lo, hi = date(y, month, 1), _month_end(y, month)
        else:
            lo = hi = date(y, month, min(day, calendar.monthrange(y, month)[1]))
        return 0 if lo <= ref <= hi else min(abs((lo - ref).days), abs((hi - ref).days))

    return min((ref.year - 1, ref.year, ref.year + 1), key=lambda y: (distance(y), y != ref.year))


_SEASON_MONTHS = {"春": 3, "夏": 6, "秋": 9, "冬": 12, "spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}


def _season(year: int, first_month: int) -> tuple[date, date]:
    ey, em = _shift_month(year, first_month, 2)
    return date(year, first_month, 1), _month_end(ey, em)


# ---------------------------------------------------------------------------------------------- patterns
_YEAR4 = r"(?:19|20)\d{2}"
_ZH_YEAR4 = r"[一二][〇○零一二三四五六七八九]{3}"
_MONTH = r"(?:1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])"
_DAY = r"(?:3[01]|[12]\d|0?[1-9]|三十一?|二十[一二三四五六七八九]?|十[一二三四五六七八九]?|[一二三四五六七八九])"
_DAYSUF = r"[日号號]"
# No digit, decimal point or Chinese numeral directly before a number we read (so 17月, 3.7月, 十七月 fail).
_NB = r"(?<![\d.．/\-" + _ZH_NUM_CHARS + r"])"
_NA = r"(?![\d.%％])"

# 2023年7月31日, 2023年7月, 2023年, 二〇二三年七月, 23年7月 (two-digit years only with a month).
_ZH_YMD = re.compile(
    _NB + r"(?P<y>" + _YEAR4 + r"|" + _ZH_YEAR4 + r"|\d{2})\s*年\s*"
    r"(?:(?P<m>" + _MONTH + r")\s*月(?:份)?\s*(?:(?P<d>" + _DAY + r")\s*" + _DAYSUF + r")?)?"
)
# 7月31日, 7月, 7月份, 七月三十一日 (year from the reference).
_ZH_MD = re.compile(_NB + r"(?P<m>" + _MONTH + r")\s*月(?P<fen>份)?\s*(?:(?P<d>" + _DAY + r")\s*" + _DAYSUF + r")?")
# 今年7月, 去年冬天, 前年, 今年年底.
_ZH_REL_YEAR = re.compile(
    r"(?P<ry>今年|去年|前年|明年|本年|大前年)"
    r"(?:(?P<m>" + _MONTH + r")\s*月(?:份)?(?:(?P<d>" + _DAY + r")" + _DAYSUF + r")?"
    r"|(?P<season>[春夏秋冬])(?:天|季)"
    r"|年?(?P<edge>初|底|末))?"
)
# 本月3日, 上个月20号.
_ZH_REL_MONTH = re.compile(r"(?P<rm>本月|这个月|這個月|上个?月|上個月|下个?月|下個月)(?:(?P<d>" + _DAY + r")" + _DAYSUF + r")?")
_ZH_REL_WEEK = re.compile(r"(?P<rw>本周|这周|這週|本週|这个星期|這個星期|本星期|上周|上週|上个?星期|上個星期|下周|下週|下个?星期|下個星期)")
# 3天前, 两周前, 五个月前, 十年前.
_ZH_AGO = re.compile(r"(?P<n>\d{1,2}|[一二两三四五六七八九十]{1,3})\s*(?P<u>天|日|周|週|个星期|個星期|个月|個月|年)前")
_ZH_DAY_WORDS = {
    "大前天": -3, "前天": -2, "昨天": -1, "昨日": -1, "今天": 0, "今日": 0, "刚刚": 0, "剛剛": 0, "刚才": 0,
    "今晨": 0, "今早": 0, "昨晚": -1, "昨夜": -1, "明天": 1, "明日": 1, "后天": 2, "後天": 2,
}
_ZH_DAY = re.compile("|".join(sorted(_ZH_DAY_WORDS, key=len, reverse=True)))
# 前天津市长 is "former Tianjin mayor"; 今日头条 and 今日说法 are names.
_ZH_DAY_BLOCK = re.compile(r"前天津|今日头条|今日頭條|今日说法|今日說法|明日之后|明日方舟|后天性|後天性")
_ZH_RECENT = re.compile(r"近日|日前|近期|连日来|連日來|这几天|這幾天")

_MONTHS_EN = {
    "January": 1, "February": 2, "March": 3, "April": 4, "May": 5, "June": 6, "July": 7, "August": 8,
    "September": 9, "October": 10, "November": 11, "December": 12,
    "Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "Jun": 6, "Jul": 7, "Aug": 8, "Sep": 9, "Sept": 9, "Oct": 10, "Nov": 11, "Dec": 12,
}
# Case-sensitive on purpose: "may", "march" and "august" are ordinary words in lower case.
_MON = r"(?P<mon>" + "|".join(sorted(_MONTHS_EN, key=len, reverse=True)) + r")\.?"
_ORD = r"(?:st|nd|rd|th)?"
_EN_MDY = re.compile(r"\b" + _MON + r"\s+(?P<d>[12]\d|3[01]|0?[1-9])" + _ORD + r"(?:,?\s+(?P<y>" + _YEAR4 + r"))?\b(?![:\d%])")
_EN_DMY = re.compile(r"\b(?P<d>[12]\d|3[01]|0?[1-9])" + _ORD + r"\s+(?:of\s+)?" + _MON + r"(?:,?\s+(?P<y>" + _YEAR4 + r"))?\b")
_EN_MY = re.compile(r"\b" + _MON + r",?\s+(?P<y>" + _YEAR4 + r")\b")
# A bare month or year only after a word that makes it a time: "in July", "since 2019", "early 2020".
_EN_PREP = r"(?i:in|since|during|until|till|through|throughout|from|by|before|after|early|late|mid-?|last|this|next)"
_EN_PREP_MON = re.compile(r"\b(?P<prep>" + _EN_PREP + r")\s+" + _MON + r"\b(?!\s*\d)")
_EN_PREP_YEAR = re.compile(r"\b(?i:in|since|during|until|till|through|throughout|from|by|before|after|early|late|mid-?|of)\s+(?P<y>" + _YEAR4 + r")\b(?![\d%,.]\d|%|\s*(?i:people|persons|cases|times|yuan|dollars|units|km|m|kg)\b)")
_EN_REL = re.compile(
    r"\b(?i:(?P<day>the day before yesterday|yesterday|today|tonight|tomorrow|this (?:morning|afternoon|evening)|last night)"
    r"|(?P<week>(?:earlier )?this week|last week|next week)"
    r"|(?P<month>earlier this month|this month|last month|next month)"
    r"|(?P<year>earlier this year|this year|last year|next year)"
    r"|(?P<season>(?:last|this|next) (?:spring|summer|autumn|fall|winter))"
    r"|(?P<recent>in recent days|in the past few days|over the past few days)"
    r"|(?P<n>\d{1,2}|an?|one|two|three|four|five|six|seven|eight|nine|ten) (?P<u>day|week|month|year)s? ago)\b"
)
_EN_DAY_BLOCK = re.compile(r"USA Today|Today Show|the Today programme", re.IGNORECASE)
# 2023-07-31, 2023/7/31, 2023.7.31 (one separator throughout).
_NUM_YMD = re.compile(r"(?<![\d.\-/])(?P<y>" + _YEAR4 + r")(?P<sep>[-/.])(?P<m>1[0-2]|0?[1-9])(?P=sep)(?P<d>3[01]|[12]\d|0?[1-9])(?![\d%])(?!\.\d)")
# 2023-07, 2023/07: two-digit month only, so 2019-20 style ranges and 2023.7 (a number) are not months.
_NUM_YM = re.compile(r"(?<![\d.\-/])(?P<y>" + _YEAR4 + r")(?P<sep>[-/])(?P<m>1[0-2]|0[1-9])(?![\d%\-/.])")
# 7/31/2023 (US order) or 31/7/2023 (when the first number cannot be a month).
_NUM_MDY = re.compile(r"(?<![\d.\-/])(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<y>" + _YEAR4 + r")(?![\d%/])")


# ---------------------------------------------------------------------------------------------- extraction
@dataclass(frozen=True)
class _Cand:
    start: int
    end: int
    lo: date
    hi: date
    granularity: Granularity
    relative: bool


def _day(d: date, relative: bool) -> tuple[date, date, Granularity, bool]:
    return d, d, "day", relative


def _month(y: int, m: int, relative: bool) -> tuple[date, date, Granularity, bool]:
    return date(y, m, 1), _month_end(y, m), "month", relative


def _year(y: int, relative: bool) -> tuple[date, date, Granularity, bool]:
    return date(y, 1, 1), date(y, 12, 31), "year", relative


def _resolve_ymd(y: int, m: int | None, d: int | None, relative: bool) -> tuple[date, date, Granularity, bool]:
    if m is None:
        return _year(y, relative)
    if d is None:
        return _month(y, m, relative)
    return _day(date(y, m, d), relative)


def _zh_absolute(text: str, ref: date | None):
    for mt in _ZH_YMD.finditer(text):
        ys, ms, ds = mt.group("y"), mt.group("m"), mt.group("d")
        if len(ys) == 2 and ys.isdigit():
            if ms is None:
                continue  # 23年 alone is as likely "23 years" as 2023
            y = 2000 + int(ys)
        else:
            y = _zh_int(ys)
        if not MIN_YEAR <= y <= MAX_YEAR:
            continue
        try:
            value = _resolve_ymd(y, _zh_int(ms) if ms else None, _zh_int(ds) if ds else None, False)
        except ValueError:
            continue  # an impossible calendar date (2月30日) is not a date
        yield mt.start(), mt.end(), value
    if ref is None:
        return
    for mt in _ZH_MD.finditer(text):
        ms, ds = mt.group("m"), mt.group("d")
        # A Chinese-numeral month alone (七月) is too often something else (十月怀胎); need a day or 份.
        if not ms.isdigit() and ds is None and not mt.group("fen"):
            continue
        m, d = _zh_int(ms), (_zh_int(ds) if ds else None)
        try:
            value = _resolve_ymd(_nearest_year(m, d, ref), m, d, True)
        except ValueError:
            continue
        yield mt.start(), mt.end(), value


_REL_YEAR_DELTA = {"今年": 0, "本年": 0, "去年": -1, "前年": -2, "大前年": -3, "明年": 1}


def _zh_relative(text: str, ref: date):
    for mt in _ZH_REL_YEAR.finditer(text):
        y = ref.year + _REL_YEAR_DELTA[mt.group("ry")]
        if mt.group("m"):
            d = _zh_int(mt.group("d")) if mt.group("d") else None
            try:
                value = _resolve_ymd(y, _zh_int(mt.group("m")), d, True)
            except ValueError:
                continue
            yield mt.start(), mt.end(), value
        elif mt.group("season"):
            lo, hi = _season(y, _SEASON_MONTHS[mt.group("season")])
            yield mt.start(), mt.end(), (lo, hi, "season", True)
        elif mt.group("edge"):
            yield mt.start(), mt.end(), _month(y, 1 if mt.group("edge") == "初" else 12, True)
        else:
            yield mt.start(), mt.end(), _year(y, True)
    for mt in _ZH_REL_MONTH.finditer(text):
        word = mt.group("rm")
        delta = -1 if word.startswith("上") else 1 if word.startswith("下") else 0
        y, m = _shift_month(ref.year, ref.month, delta)
        if mt.group("d"):
            d = _zh_int(mt.group("d"))
            if d > calendar.monthrange(y, m)[1]:
                continue
            yield mt.start(), mt.end(), _day(date(y, m, d), True)
        else:
            yield mt.start(), mt.end(), _month(y, m, True)
    for mt in _ZH_REL_WEEK.finditer(text):
        word = mt.group("rw")
        delta = -7 if word.startswith("上") else 7 if word.startswith("下") else 0
        lo, hi = _week_of(ref + timedelta(days=delta))
        yield mt.start(), mt.end(), (lo, hi, "week", True)
    blocked = [b.span() for b in _ZH_DAY_BLOCK.finditer(text)]
    for mt in _ZH_DAY.finditer(text):
        if any(s <= mt.start() < e for s, e in blocked):
            continue
        yield mt.start(), mt.end(), _day(ref + timedelta(days=_ZH_DAY_WORDS[mt.group()]), True)
    for mt in _ZH_RECENT.finditer(text):
        yield mt.start(), mt.end(), (ref - timedelta(days=RECENT_WINDOW_DAYS), ref, "week", True)
    for mt in _ZH_AGO.finditer(text):
        try:
            n = _zh_int(mt.group("n"))
        except (KeyError, ValueError):
            continue
        yield mt.start(), mt.end(), _ago(ref, n, mt.group("u"))


def _ago(ref: date, n: int, unit: str):
    if unit in ("天", "日", "day"):
        return _day(ref - timedelta(days=n), True)
    if unit in ("周", "週", "个星期", "個星期", "week"):
        lo, hi = _week_of(ref - timedelta(weeks=n))
        return lo, hi, "week", True
    if unit in ("个月", "個月", "month"):
        return _month(*_shift_month(ref.year, ref.month, -n), True)
    return _year(ref.year - n, True)


def _en_absolute(text: str, ref: date | None):
    for pattern in (_EN_MDY, _EN_DMY):
        for mt in pattern.finditer(text):
            m, d = _MONTHS_EN[mt.group("mon")], int(mt.group("d"))
            if mt.group("y") is None and ref is None:
                continue
            try:
                if mt.group("y"):
                    value = _day(date(int(mt.group("y")), m, d), False)
                else:
                    value = _day(date(_nearest_year(m, d, ref), m, d), True)
            except ValueError:
                continue
            yield mt.start(), mt.end(), value
    for mt in _EN_MY.finditer(text):
        yield mt.start(), mt.end(), _month(int(mt.group("y")), _MONTHS_EN[mt.group("mon")], False)
    if ref is not None:
        for mt in _EN_PREP_MON.finditer(text):
            m = _MONTHS_EN[mt.group("mon")]
            prep = mt.group("prep").lower()
            if prep == "last":
                y = ref.year if m < ref.month else ref.year - 1
            elif prep == "next":
                y = ref.year if m > ref.month else ref.year + 1
            elif prep == "this":
                y = ref.year
            else:
                y = _nearest_year(m, None, ref)
            # The preposition is context, not part of the date: the span starts at the month.
            yield mt.start("mon"), mt.end(), _month(y, m, True)
    for mt in _EN_PREP_YEAR.finditer(text):
        yield mt.start("y"), mt.end("y"), _year(int(mt.group("y")), False)


def _en_relative(text: str, ref: date):
    blocked = [b.span() for b in _EN_DAY_BLOCK.finditer(text)]
    for mt in _EN_REL.finditer(text):
        if any(s <= mt.start() < e for s, e in blocked):
            continue
        g = mt.group().lower()
        if mt.group("day"):
            offset = -2 if "before" in g else -1 if ("yesterday" in g or "last night" in g) else 1 if "tomorrow" in g else 0
            yield mt.start(), mt.end(), _day(ref + timedelta(days=offset), True)
        elif mt.group("week"):
            lo, hi = _week_of(ref + timedelta(days=-7 if g.startswith("last") else 7 if g.startswith("next") else 0))
            yield mt.start(), mt.end(), (lo, min(hi, ref) if g.startswith("earlier") else hi, "week", True)
        elif mt.group("month"):
            y, m = _shift_month(ref.year, ref.month, -1 if g.startswith("last") else 1 if g.startswith("next") else 0)
            lo, hi, gran, rel = _month(y, m, True)
            yield mt.start(), mt.end(), (lo, min(hi, ref) if g.startswith("earlier") else hi, gran, rel)
        elif mt.group("year"):
            y = ref.year + (-1 if g.startswith("last") else 1 if g.startswith("next") else 0)
            lo, hi, gran, rel = _year(y, True)
            yield mt.start(), mt.end(), (lo, min(hi, ref) if g.startswith("earlier") else hi, gran, rel)
        elif mt.group("season"):
            which, name = g.split()
            lo, hi = _season(ref.year + {"last": -1, "this": 0, "next": 1}[which], _SEASON_MONTHS[name])
            yield mt.start(), mt.end(), (lo, hi, "season", True)
        elif mt.group("recent"):
            yield mt.start(), mt.end(), (ref - timedelta(days=RECENT_WINDOW_DAYS), ref, "week", True)
        else:
            yield mt.start(), mt.end(), _ago(ref, _en_int(mt.group("n")), mt.group("u").lower())


def _numeric(text: str):
    for mt in _NUM_YMD.finditer(text):
        try:
            value = _day(date(int(mt.group("y")), int(mt.group("m")), int(mt.group("d"))), False)
        except ValueError:
            continue
        yield mt.start(), mt.end(), value
    for mt in _NUM_YM.finditer(text):
        yield mt.start(), mt.end(), _month(int(mt.group("y")), int(mt.group("m")), False)
    for mt in _NUM_MDY.finditer(text):
        a, b, y = int(mt.group("a")), int(mt.group("b")), int(mt.group("y"))
        m, d = (a, b) if a <= 12 else (b, a)
        try:
            value = _day(date(y, m, d), False)
        except ValueError:
            continue  # 13/13/2023, 2/30/2023
        yield mt.start(), mt.end(), value


def extract_dates(text: str, reference: date | None) -> list[DateMention]:
    """Every date mention in ``text`` (Chinese or English), in order, resolved against ``reference``.

    Relative mentions (and year-less ones such as 7月31日) need ``reference``; without it they are left out.
    """
    scan = text.translate(_FULLWIDTH)
    sources = [_zh_absolute(scan, reference), _en_absolute(scan, reference), _numeric(scan)]
    if reference is not None:
        sources += [_zh_relative(scan, reference), _en_relative(scan, reference)]
    cands: list[_Cand] = []
    for source in sources:
        for s, e, (lo, hi, gran, rel) in source:
            # Trailing spaces the patterns allow between parts are not part of the mention.
            while e > s and scan[e - 1].isspace():
                e -= 1
            cands.append(_Cand(s, e, lo, hi, gran, rel))
    # Longest first, then leftmost: 2023年7月31日 beats 7月31日, 今年7月 beats 今年 and 7月.
    cands.sort(key=lambda c: (-(c.end - c.start), c.start))
    taken: list[_Cand] = []
    for c in cands:
        if all(c.end <= t.start or c.start >= t.end for t in taken):
            taken.append(c)
    taken.sort(key=lambda c: c.start)
    return [DateMention(text[c.start:c.end], (c.start, c.end), c.lo, c.hi, c.granularity, c.relative) for c in taken]


def format_date(d: date, granularity: str, lang: str) -> str:
    """A date as a reader writes it at the given granularity: 2024年7月20日 / July 20, 2024; 2024年7月 / July 2024."""
    if lang == "zh":
        if granularity == "year":
            return f"{d.year}年"
        if granularity in ("month", "season"):
            return f"{d.year}年{d.month}月"
        return f"{d.year}年{d.month}月{d.day}日"
    month = calendar.month_name[d.month]
    if granularity == "year":
        return str(d.year)
    if granularity in ("month", "season"):
        return f"{month} {d.year}"
    return f"{month} {d.day}, {d.year}"


def format_mention(m: DateMention, lang: str) -> str:
    """The range a mention covers, in words: a single date, or 'from .. to ..' for weeks, seasons, 近日."""
    if m.granularity in ("week", "season"):
        lo, hi = format_date(m.start, "day", lang), format_date(m.end, "day", lang)
        return f"{lo}至{hi}" if lang == "zh" else f"{lo} to {hi}"
    return format_date(m.start, m.granularity, lang)
