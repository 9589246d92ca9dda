"""Date mentions in Chinese and English, resolved against a reference date (a post's date).

The reference below is Saturday 20 July 2024: its week runs Monday 15 to Sunday 21 July.
"""

from datetime import date

import pytest

from factcheck.dates import RECENT_WINDOW_DAYS, extract_dates, format_date, format_mention

REF = date(2024, 7, 20)
D = date


def one(text: str, reference: date | None = REF):
    found = extract_dates(text, reference)
    assert len(found) == 1, found
    m = found[0]
    assert text[m.span[0]:m.span[1]] == m.text  # spans index the original text
    return m.text, m.start, m.end, m.granularity, m.relative


@pytest.mark.parametrize(
    "text, expected",
    [
        # Chinese, absolute
        ("2023年7月31日郑州暴雨", ("2023年7月31日", D(2023, 7, 31), D(2023, 7, 31), "day", False)),
        ("2023年7月", ("2023年7月", D(2023, 7, 1), D(2023, 7, 31), "month", False)),
        ("早在2023年就有", ("2023年", D(2023, 1, 1), D(2023, 12, 31), "year", False)),
        ("23年7月的视频", ("23年7月", D(2023, 7, 1), D(2023, 7, 31), "month", False)),
        ("二〇二三年七月", ("二〇二三年七月", D(2023, 7, 1), D(2023, 7, 31), "month", False)),
        ("2008年5月12日14时28分", ("2008年5月12日", D(2008, 5, 12), D(2008, 5, 12), "day", False)),
        ("２０２３年７月３１日", ("２０２３年７月３１日", D(2023, 7, 31), D(2023, 7, 31), "day", False)),
        ("2020年2月29日", ("2020年2月29日", D(2020, 2, 29), D(2020, 2, 29), "day", False)),
        ("2023年7月31号", ("2023年7月31号", D(2023, 7, 31), D(2023, 7, 31), "day", False)),
        # numeric and English, absolute
        ("7/31/2023", ("7/31/2023", D(2023, 7, 31), D(2023, 7, 31), "day", False)),
        ("31/7/2023", ("31/7/2023", D(2023, 7, 31), D(2023, 7, 31), "day", False)),
        ("on 2023-07-31 at noon", ("2023-07-31", D(2023, 7, 31), D(2023, 7, 31), "day", False)),
        ("2023.7.31", ("2023.7.31", D(2023, 7, 31), D(2023, 7, 31), "day", False)),
        ("2023/7/31", ("2023/7/31", D(2023, 7, 31), D(2023, 7, 31), "day", False)),
        ("report of 2023-07", ("2023-07", D(2023, 7, 1), D(2023, 7, 31), "month", False)),
        ("On July 31, 2023, floods", ("July 31, 2023", D(2023, 7, 31), D(2023, 7, 31), "day", False)),
        ("on 31 July 2023", ("31 July 2023", D(2023, 7, 31), D(2023, 7, 31), "day", False)),
        ("Jul. 4, 2021", ("Jul. 4, 2021", D(2021, 7, 4), D(2021, 7, 4), "day", False)),
        ("in July 2023 the river", ("July 2023", D(2023, 7, 1), D(2023, 7, 31), "month", False)),
        ("It happened in 2019.", ("2019", D(2019, 1, 1), D(2019, 12, 31), "year", False)),
        # a month or day without a year takes the year nearest the reference
        ("7月31日", ("7月31日", D(2024, 7, 31), D(2024, 7, 31), "day", True)),
        ("七月三十一日", ("七月三十一日", D(2024, 7, 31), D(2024, 7, 31), "day", True)),
        ("7月份的暴雨", ("7月份", D(2024, 7, 1), D(2024, 7, 31), "month", True)),
        ("in March", ("March", D(2024, 3, 1), D(2024, 3, 31), "month", True)),
        ("on July 4", ("July 4", D(2024, 7, 4), D(2024, 7, 4), "day", True)),
        # Chinese, relative
        ("今天", ("今天", REF, REF, "day", True)),
        ("今日凌晨", ("今日", REF, REF, "day", True)),
        ("昨天郑州暴雨", ("昨天", D(2024, 7, 19), D(2024, 7, 19), "day", True)),
        ("昨日", ("昨日", D(2024, 7, 19), D(2024, 7, 19), "day", True)),
        ("前天", ("前天", D(2024, 7, 18), D(2024, 7, 18), "day", True)),
        ("明天起停水", ("明天", D(2024, 7, 21), D(2024, 7, 21), "day", True)),
        ("刚刚发生", ("刚刚", REF, REF, "day", True)),
        ("本周", ("本周", D(2024, 7, 15), D(2024, 7, 21), "week", True)),
        ("上周", ("上周", D(2024, 7, 8), D(2024, 7, 14), "week", True)),
        ("上个月", ("上个月", D(2024, 6, 1), D(2024, 6, 30), "month", True)),
        ("本月3日", ("本月3日", D(2024, 7, 3), D(2024, 7, 3), "day", True)),
        ("今年", ("今年", D(2024, 1, 1), D(2024, 12, 31), "year", True)),
        ("去年", ("去年", D(2023, 1, 1), D(2023, 12, 31), "year", True)),
        ("前年", ("前年", D(2022, 1, 1), D(2022, 12, 31), "year", True)),
        ("明年起", ("明年", D(2025, 1, 1), D(2025, 12, 31), "year", True)),
        ("今年7月", ("今年7月", D(2024, 7, 1), D(2024, 7, 31), "month", True)),
        ("去年7月20日", ("去年7月20日", D(2023, 7, 20), D(2023, 7, 20), "day", True)),
        ("去年冬天", ("去年冬天", D(2023, 12, 1), D(2024, 2, 29), "season", True)),
        ("今年夏季", ("今年夏季", D(2024, 6, 1), D(2024, 8, 31), "season", True)),
        ("去年底", ("去年底", D(2023, 12, 1), D(2023, 12, 31), "month", True)),
        ("近日", ("近日", D(2024, 7, 13), REF, "week", True)),
        ("日前，有网民", ("日前", D(2024, 7, 13), REF, "week", True)),
        ("3天前", ("3天前", D(2024, 7, 17), D(2024, 7, 17), "day", True)),
        ("五个月前", ("五个月前", D(2024, 2, 1), D(2024, 2, 29), "month", True)),
        ("十年前", ("十年前", D(2014, 1, 1), D(2014, 12, 31), "year", True)),
        # English, relative
        ("today", ("today", REF, REF, "day", True)),
        ("Yesterday, a flood", ("Yesterday", D(2024, 7, 19), D(2024, 7, 19), "day", True)),
        ("the day before yesterday", ("the day before yesterday", D(2024, 7, 18), D(2024, 7, 18), "day", True)),
        ("last week", ("last week", D(2024, 7, 8), D(2024, 7, 14), "week", True)),
        ("last month", ("last month", D(2024, 6, 1), D(2024, 6, 30), "month", True)),
        ("this year", ("this year", D(2024, 1, 1), D(2024, 12, 31), "year", True)),
        ("last year", ("last year", D(2023, 1, 1), D(2023, 12, 31), "year", True)),
        ("earlier this month", ("earlier this month", D(2024, 7, 1), REF, "month", True)),
        ("last winter", ("last winter", D(2023, 12, 1), D(2024, 2, 29), "season", True)),
        ("two days ago", ("two days ago", D(2024, 7, 18), D(2024, 7, 18), "day", True)),
        ("in recent days", ("in recent days", D(2024, 7, 13), REF, "week", True)),
    ],
)
def test_one_mention(text, expected):
    assert one(text) == expected


def test_recent_window_is_a_week():
    assert RECENT_WINDOW_DAYS == 7


def test_year_less_date_takes_the_nearest_year():
    # Said on 2 January 2025, 12月28日 is last December, not next.
    assert one("12月28日", D(2025, 1, 2))[1] == D(2024, 12, 28)
    # Said on 30 December 2024, 1月3日 is next January.
    assert one("1月3日", D(2024, 12, 30))[1] == D(2025, 1, 3)


def test_winter_is_the_one_that_begins_in_the_named_year():
    # The rule is simple and documented: 冬 of year Y runs December Y to February Y+1.
    assert one("去年冬天", D(2025, 1, 10))[1:3] == (D(2024, 12, 1), D(2025, 2, 28))
    assert one("前年冬季", D(2025, 1, 10))[1:3] == (D(2023, 12, 1), D(2024, 2, 29))


@pytest.mark.parametrize(
    "text",
    [
        "联系电话13812345678",  # phone numbers
        "热线010-12345678",
        "投资3.5亿元",  # money
        "同比增长15%",  # percentages
        "下午3点集合",  # times of day
        "15:30 开会",
        "他上三年级了",  # counts that look like dates
        "5G网络覆盖",
        "怀孕7个月",
        "工作了23年",  # a two-digit year needs a month
        "十月怀胎",  # a Chinese-numeral month needs a day or 份
        "前天津市长",  # 前 + 天津, not 前天
        "今日头条上的视频",  # an app's name
        "USA Today reported",
        "2月30日",  # impossible dates
        "13/13/2023",
        "the score was 3/4",  # a year-less fraction is not read as a date
        "2019 people died",  # a bare year needs a preposition
        "May I help you? We may march.",  # modal verbs and lower-case months
        "价格为2023.5元",
        "第100年",
    ],
)
def test_false_positives_are_not_dates(text):
    assert extract_dates(text, REF) == []


def test_several_mentions_in_order_and_never_overlapping():
    text = "去年7月发生的事，今天又被翻出来，说是2024年7月19日的新闻。"
    found = extract_dates(text, REF)
    assert [m.text for m in found] == ["去年7月", "今天", "2024年7月19日"]
    assert [m.relative for m in found] == [True, True, False]
    assert all(a.span[1] <= b.span[0] for a, b in zip(found, found[1:]))


def test_claim_with_explained_relative_date():
    # The claims stage writes relative dates out: 昨天（2024-07-19）. Both readings agree.
    found = extract_dates("昨天（2024-07-19）郑州暴雨", REF)
    assert [(m.text, m.start) for m in found] == [("昨天", D(2024, 7, 19)), ("2024-07-19", D(2024, 7, 19))]


def test_without_reference_relative_mentions_are_left_out():
    assert extract_dates("昨天 上个月 last week 7月31日 in March", None) == []
    found = extract_dates("昨天有人转发2021年7月20日的视频", None)
    assert [(m.text, m.relative) for m in found] == [("2021年7月20日", False)]


def test_traditional_chinese_and_full_width():
    assert one("上個月")[1:4] == (D(2024, 6, 1), D(2024, 6, 30), "month")
    assert one("7月31號")[1] == D(2024, 7, 31)


def test_formatting():
    assert format_date(D(2024, 7, 20), "day", "zh") == "2024年7月20日"
    assert format_date(D(2024, 7, 20), "month", "zh") == "2024年7月"
    assert format_date(D(2024, 7, 20), "year", "en") == "2024"
    assert format_date(D(2024, 7, 20), "day", "en") == "July 20, 2024"
    week = extract_dates("上周", REF)[0]
    assert format_mention(week, "zh") == "2024年7月8日至2024年7月14日"
    assert format_mention(week, "en") == "July 8, 2024 to July 14, 2024"
