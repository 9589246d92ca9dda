"""Deterministic signals: recycled old news, fake official framing, known rumors. Evidence is built by hand."""

import ast
from datetime import date
from pathlib import Path

import pytest

from factcheck.schema import Claim, Evidence
from factcheck.signals import (
    bodies_related,
    body_name,
    claimed_dates,
    content_tokens,
    detect_signals,
    evidence_date,
    fake_official_signal,
    find_bodies,
    find_places,
    gap_words,
    known_rumor_signals,
    lexical_overlap,
    official_framing,
    old_news_signal,
    old_news_strength,
    places_compatible,
)

POST = date(2024, 7, 20)
FLOOD_2021 = (
    "2021年7月20日，郑州遭遇特大暴雨，地铁5号线列车在海滩寺街站附近被洪水围困，500余名乘客被困车厢，"
    "部分乘客遇难。"
)
FLOOD_CLAIM = "昨天郑州突降特大暴雨，地铁5号线被淹，多人被困车厢"


def ev(pid: str, text: str, published: date | None = None, kind: str = "release", publisher: str = "", title: str = "", **kw) -> Evidence:
    return Evidence(doc_id=pid.split("#")[0], passage_id=pid, score=1.0, text=text, title=title, kind=kind,
                    publisher=publisher, published_at=published, **kw)


def claim(text: str, lang: str = "zh", **kw) -> Claim:
    return Claim(text=text, span=(0, len(text)), lang=lang, **kw)


def kinds(signals) -> list[str]:
    return [s.kind for s in signals]


# ------------------------------------------------------------------------------------------ lexical overlap
def test_overlap_of_the_same_event_is_high_and_of_another_low():
    assert lexical_overlap(FLOOD_CLAIM, FLOOD_2021) >= 0.5
    assert lexical_overlap(FLOOD_CLAIM, "中国地震局对四川汶川地震的震级进行了修订，由7.8级调整为8.0级。") < 0.1


def test_overlap_ignores_dates_and_framing_words():
    tokens = content_tokens("昨天国家卫健委在新闻发布会上宣布，2024年起中小学停课")
    assert "昨天" not in tokens and "发布会" not in tokens and "宣布" not in tokens
    assert not any(t.isdigit() for t in tokens)
    assert "5g" in content_tokens("5G signals spread COVID")
    assert "停课" in tokens
    assert lexical_overlap("昨天今天", "anything") == 0.0  # nothing left to match


def test_english_overlap_survives_inflection():
    assert content_tokens("Floods trapped passengers") == content_tokens("flooded trapping passenger")
    assert lexical_overlap("Floods hit Zhengzhou, trapping subway passengers",
                           "Record rain flooded Zhengzhou; passengers were trapped in the subway") >= 0.6


# ------------------------------------------------------------------------------------------ places
def test_find_places_zh_and_en():
    assert [p.name for p in find_places("昨天郑州突降暴雨，河南多地受灾")] == ["郑州", "河南"]
    assert [p.name for p in find_places("Floods in Zhengzhou and New York")] == ["郑州", "纽约"]
    assert [p.name for p in find_places("印度尼西亚发生地震")] == ["印度尼西亚"]  # not 印度
    assert find_places("北京时间10点，大理石台面") == []
    assert [p.name for p in find_places("鄭州暴雨")] == ["郑州"]  # Traditional


@pytest.mark.parametrize(
    "a, b, same",
    [("郑州", "郑州", True), ("郑州", "河南", True), ("河南", "中国", True), ("郑州", "中国", True),
     ("郑州", "成都", False), ("河南", "四川", False), ("东京", "中国", False), ("东京", "日本", True)],
)
def test_places_compatible(a, b, same):
    assert places_compatible(a, b) is same and places_compatible(b, a) is same


# ------------------------------------------------------------------------------------------ dates
def test_claimed_dates_explicit_relative_implicit_and_none():
    assert [(m.text, m.start) for m in claimed_dates("昨天郑州暴雨", POST)] == [("昨天", date(2024, 7, 19))]
    assert [(m.text, m.start) for m in claimed_dates("2021年7月郑州暴雨", None)] == [("2021年7月", date(2021, 7, 1))]
    implicit = claimed_dates("郑州暴雨，地铁被淹", POST)
    assert [(m.text, m.start, m.relative) for m in implicit] == [("", POST, True)]
    assert claimed_dates("郑州暴雨，地铁被淹", None) == []
    assert claimed_dates("昨天郑州暴雨", None) == []  # relative without a post date says nothing


def test_evidence_date_prefers_publication_then_text():
    assert evidence_date(ev("a#p0", FLOOD_2021, date(2021, 7, 21))) == (date(2021, 7, 21), "published")
    assert evidence_date(ev("a#p0", FLOOD_2021)) == (date(2021, 7, 20), "mentioned")
    assert evidence_date(ev("a#p0", "郑州暴雨，地铁被淹")) is None


def test_old_news_strength_grows_with_the_gap(settings):
    assert old_news_strength(settings.old_news_min_days - 1, settings) == 0.0
    assert old_news_strength(settings.old_news_min_days, settings) == 0.5
    assert old_news_strength(settings.old_news_full_days, settings) == 1.0
    assert old_news_strength(10 * settings.old_news_full_days, settings) == 1.0
    steps = [old_news_strength(d, settings) for d in range(settings.old_news_min_days, settings.old_news_full_days, 100)]
    assert steps == sorted(steps)


@pytest.mark.parametrize("days, zh, en", [(1094, "约3年", "about 3 years"), (240, "约8个月", "about 8 months"), (40, "40天", "40 days"), (365, "约1年", "about 1 year")])
def test_gap_words(days, zh, en):
    assert gap_words(days, "zh") == zh and gap_words(days, "en") == en


# ------------------------------------------------------------------------------------------ old news recycled
def test_recycled_flood(settings):
    evidence = [ev("zz-flood#p0", FLOOD_2021, date(2021, 7, 21), publisher="郑州市人民政府新闻办公室")]
    signals = detect_signals(claim(FLOOD_CLAIM), evidence, [], settings, POST)
    assert kinds(signals) == ["old_news_recycled"]
    s = signals[0]
    assert s.passage_ids == ["zz-flood#p0"]
    assert s.strength > 0.9
    assert s.detail == "声称为昨天（2024年7月19日）的事件，匹配证据发布于2021年7月21日（早约3年）"


def test_same_day_report_gives_no_signal(settings):
    evidence = [ev("zz-today#p0", FLOOD_2021.replace("2021年", "2024年"), date(2024, 7, 19))]
    assert old_news_signal(claim(FLOOD_CLAIM), evidence, settings, POST) == []


def test_a_current_release_outweighs_an_old_one(settings):
    evidence = [ev("old#p0", FLOOD_2021, date(2021, 7, 21)), ev("new#p0", FLOOD_2021.replace("2021年", "2024年"), date(2024, 7, 19))]
    assert old_news_signal(claim(FLOOD_CLAIM), evidence, settings, POST) == []


def test_a_recent_debunk_does_not_make_the_event_current(settings):
    # A debunk's date is when the rumor was checked, not when the event happened.
    debunk = ev("db#p0", "网传郑州地铁5号线被淹车厢被困视频系2021年特大暴雨旧视频。", date(2024, 7, 20), kind="debunk")
    evidence = [ev("old#p0", FLOOD_2021, date(2021, 7, 21)), debunk]
    assert [s.passage_ids for s in old_news_signal(claim(FLOOD_CLAIM), evidence, settings, POST)] == [["old#p0"]]


def test_unrelated_old_evidence_gives_no_signal(settings):
    quake = ev("quake#p0", "中国地震局对5月12日四川汶川地震的震级进行了修订，由7.8级调整为8.0级。", date(2008, 5, 18))
    assert old_news_signal(claim(FLOOD_CLAIM), [quake], settings, POST) == []


def test_claim_that_names_the_old_date_is_not_recycling(settings):
    c = claim("2021年7月20日郑州突降特大暴雨，地铁5号线被淹，多人被困车厢")
    assert old_news_signal(c, [ev("zz#p0", FLOOD_2021, date(2021, 7, 21))], settings, POST) == []


def test_gap_below_the_setting_gives_no_signal(settings):
    evidence = [ev("zz#p0", FLOOD_2021, date(2021, 7, 21))]
    assert old_news_signal(claim(FLOOD_CLAIM), evidence, settings.with_(old_news_min_days=2000), POST) == []


def test_only_the_top_passages_are_read(settings):
    filler = [ev(f"f{i}#p0", "央行发布数字人民币白皮书。", date(2021, 7, 16)) for i in range(settings.signal_top_evidence)]
    evidence = filler + [ev("zz#p0", FLOOD_2021, date(2021, 7, 21))]
    assert old_news_signal(claim(FLOOD_CLAIM), evidence, settings, POST) == []


def test_undated_evidence_is_dated_by_its_text(settings):
    signals = old_news_signal(claim(FLOOD_CLAIM), [ev("zz#p0", FLOOD_2021)], settings, POST)
    assert kinds(signals) == ["old_news_recycled"]
    assert "所载日期为2021年7月20日" in signals[0].detail


def test_undated_claim_is_taken_as_news_of_the_post_date(settings):
    c = claim("郑州突降特大暴雨，地铁5号线被淹，多人被困车厢")
    s = old_news_signal(c, [ev("zz#p0", FLOOD_2021, date(2021, 7, 21))], settings, POST)[0]
    assert s.detail.startswith("未注明日期，按发布日2024年7月20日视为新近事件")
    # weaker than when the claim itself says when
    explicit = old_news_signal(claim(FLOOD_CLAIM), [ev("zz#p0", FLOOD_2021, date(2021, 7, 21))], settings, POST)[0]
    assert s.strength == pytest.approx(explicit.strength * settings.old_news_implicit_weight, abs=1e-3)


def test_relocated_and_redated(settings):
    c = claim(FLOOD_CLAIM.replace("郑州", "成都"))
    s = old_news_signal(c, [ev("zz#p0", FLOOD_2021, date(2021, 7, 21))], settings, POST)[0]
    assert "早约3年" in s.detail and "地点不符：声称发生在成都，高度匹配的证据所述地点为郑州" in s.detail


def test_relocated_only(settings):
    # No post date, so no claimed date: the place alone gives the weaker signal.
    c = claim(FLOOD_CLAIM.replace("昨天郑州", "成都"))
    [s] = old_news_signal(c, [ev("zz#p0", FLOOD_2021, date(2021, 7, 21))], settings, None)
    assert s.strength == settings.relocated_strength and "成都" in s.detail and s.passage_ids == ["zz#p0"]


def test_same_province_is_not_a_place_mismatch(settings):
    c = claim("河南突降特大暴雨，地铁5号线被淹，多人被困车厢")
    assert old_news_signal(c, [ev("zz#p0", FLOOD_2021, date(2021, 7, 21))], settings, None) == []


def test_recycled_flood_in_english(settings):
    c = claim("Floods hit Zhengzhou yesterday, trapping passengers in subway Line 5", lang="en")
    e = ev("xh#p0", "On July 20, 2021, record rain flooded Zhengzhou; passengers were trapped in subway Line 5.", date(2021, 7, 21), publisher="Xinhua")
    [s] = detect_signals(c, [e], [], settings, POST)
    assert s.kind == "old_news_recycled" and s.passage_ids == ["xh#p0"]
    assert s.detail == ("claimed as an event of yesterday (July 19, 2024); matching evidence published "
                        "July 21, 2021 (about 3 years earlier)")


# ------------------------------------------------------------------------------------------ official framing
@pytest.mark.parametrize(
    "text, body",
    [
        ("在今天的新闻发布会上，有关方面表示下周停课", None),
        ("新闻发布会上宣布：全市封控", None),
        ("官方通报：某地发生爆炸", None),
        ("紧急通知！明天起全市停水", None),
        ("红头文件显示，工资上调", None),
        ("据新华社报道，某地发生地震", "新华社"),
        ("央视新闻报道，全国停课", "中央广播电视总台"),
        ("国务院办公厅发布通知，延长假期", "国务院办公厅"),
        ("卫健委宣布新冠病毒已变异", "国家卫健委"),
        ("国家卫生健康委员会在今天的新闻发布会上宣布", "国家卫健委"),
        ("中国地震局四川分局紧急预报：明天还有强余震", "中国地震局"),
        ("郑州市政府刚刚宣布：全市进入一级战备", "local:郑州|人民政府"),
        ("据郑州警方消息", "local:郑州|公安局"),
        ("央行宣布数字人民币全面推开", "中国人民银行"),
        ("The ministry announced a nationwide lockdown", None),
        ("According to an official notice, schools will close", None),
        ("At a press conference, the mayor spoke", None),
        ("The WHO said the virus is airborne", "世界卫生组织"),
        ("According to the World Health Organization, masks work", "世界卫生组织"),
        ("The FDA announced a recall", "美国食品药品监督管理局"),
        ("BREAKING: government announces curfew", None),
    ],
)
def test_official_framing_found(text, body):
    framings = official_framing(text)
    assert framings, text
    assert framings[0].body == body
    f = framings[0]
    assert text[f.span[0]:f.span[1]] == f.phrase


@pytest.mark.parametrize(
    "text",
    [
        "教育部的数据表明入学人数增加",  # a body named, but nothing framed as its announcement
        "我家楼下新开的奶茶店排了两百人",
        "who said that? nobody knows",  # lower-case 'who' is not the WHO
        "The WHO was founded in 1948",
        "郑州暴雨，地铁5号线被淹",
        "小米在今天的发布会上推出新手机",  # a product launch is not an official press conference
    ],
)
def test_no_official_framing(text):
    assert official_framing(text) == []


def test_find_bodies_folds_aliases_and_prefers_the_longest_name():
    keys = lambda t: [b.key for b in find_bodies(t)]  # noqa: E731
    assert keys("卫健委") == keys("国家卫生健康委员会") == ["国家卫健委"]
    assert keys("WHO") == keys("World Health Organization") == keys("世卫组织") == ["世界卫生组织"]
    assert keys("美国疾控中心") == ["美国疾控中心"] and keys("疾控中心") == ["中国疾控中心"]
    assert keys("北京市卫健委") == ["local:北京|卫健委"]  # a local office, not the national commission
    assert keys("中国人民银行等七部门") == ["中国人民银行"]
    assert keys("应急管理部、中国地震局") == ["应急管理部", "中国地震局"]
    assert keys("國家衛健委") == ["国家卫健委"]  # Traditional


def test_bodies_related_follows_the_hierarchy():
    assert bodies_related("国务院", "国务院新闻办公室")
    assert bodies_related("中国地震局", "中国地震台网中心")
    assert bodies_related("local:郑州|人民政府", "local:郑州|公安局")
    assert not bodies_related("教育部", "公安部")
    assert not bodies_related("local:郑州|公安局", "local:长沙|公安局")
    assert body_name("local:郑州|公安局", "zh") == "郑州市公安局"
    assert body_name("local:河北|公安局", "zh") == "河北省公安局"
    assert body_name("世界卫生组织", "en") == "the WHO"


PRESS_CLAIM = "国家卫健委在今天的新闻发布会上宣布，下周起全国中小学停课两周"
CLOSURE_RELEASE = "国家卫生健康委员会：为防控流感，全国中小学下周起停课两周，具体安排由各地教育部门公布。"


def test_fake_press_conference_without_a_release(settings):
    evidence = [ev("edu#p0", "教育部印发通知，规范校外培训收费。", date(2024, 7, 1), publisher="教育部")]
    [s] = detect_signals(claim(PRESS_CLAIM), evidence, [], settings, POST)
    assert s.kind == "fake_official_source"
    assert s.strength == settings.fake_official_absent_strength
    assert s.detail == ("以官方发布口吻表述（“国家卫健委在今天的新闻发布会上宣布”），声称来源为国家卫健委，"
                        "但检索到的证据中没有该机构的任何相关发布")


def test_same_framing_with_a_matching_release(settings):
    evidence = [ev("nhc#p0", CLOSURE_RELEASE, POST, publisher="国家卫生健康委员会")]
    assert fake_official_signal(claim(PRESS_CLAIM), evidence, settings) == []


def test_body_with_only_unrelated_releases_is_weaker(settings):
    evidence = [ev("nhc#p0", "国家卫健委发布夏季防暑降温指南，提醒老人注意补水。", POST, publisher="国家卫健委")]
    [s] = fake_official_signal(claim(PRESS_CLAIM), evidence, settings)
    assert s.strength == settings.fake_official_unrelated_strength < settings.fake_official_absent_strength
    assert "该机构的发布均与此说法无关" in s.detail


def test_a_related_release_from_another_body_is_named(settings):
    evidence = [ev("moe#p0", CLOSURE_RELEASE.replace("国家卫生健康委员会", "教育部"), POST, publisher="教育部")]
    [s] = fake_official_signal(claim(PRESS_CLAIM), evidence, settings)
    assert s.strength == settings.fake_official_absent_strength
    assert s.detail.endswith("相关内容的发布方为教育部") and s.passage_ids == ["moe#p0"]


def test_a_debunk_from_the_body_is_not_a_release(settings):
    debunk = ev("nhc-db#p0", "网传国家卫健委宣布全国中小学下周起停课两周，系谣言。", POST, kind="debunk", publisher="国家卫健委")
    assert kinds(fake_official_signal(claim(PRESS_CLAIM), [debunk], settings)) == ["fake_official_source"]


def test_unnamed_framing(settings):
    c = claim("紧急通知：明天起长沙全城停水三天，请储备饮用水")
    [s] = fake_official_signal(c, [], settings)
    assert s.strength == settings.fake_official_unnamed_strength and "未指明发布机构" in s.detail
    release = ev("cs#p0", "长沙市自来水公司：因管网改造，明天起部分区域停水，全城停水三天的说法不实。请储备饮用水。",
                 POST, publisher="长沙市人民政府")
    assert fake_official_signal(c, [release], settings) == []


def test_english_fake_official(settings):
    c = claim("BREAKING: the WHO said a new pandemic virus has been found in Brazil", lang="en")
    [s] = fake_official_signal(c, [], settings)
    assert s.strength == settings.fake_official_absent_strength
    assert s.detail == ('framed as official ("BREAKING"), attributed to the WHO, but no release of it in the '
                        "evidence matches")
    who = ev("who#p0", "A new pandemic virus has been found in Brazil, WHO confirms.", POST, publisher="World Health Organization", lang="en")
    assert fake_official_signal(c, [who], settings) == []


def test_claim_sources_count_as_attribution(settings):
    c = claim("全国中小学下周起停课两周", sources=["国家卫健委"])
    [s] = fake_official_signal(c, [], settings)
    assert "国家卫健委" in s.detail
    assert fake_official_signal(claim("全国中小学下周起停课两周"), [], settings) == []


# ------------------------------------------------------------------------------------------ known rumor
DEBUNK = {"id": "zh-society-002", "kind": "debunk", "publisher": "中国人民银行", "published_at": "2021-07-16",
          "rating": "谣言", "rumor": "数字人民币推出后现金取消了"}


def test_known_rumor_above_threshold(settings):
    [s] = detect_signals(claim("数字人民币推出后现金将被取消"), [], [(DEBUNK, 0.91)], settings, POST)
    assert s.kind == "known_rumor" and s.strength == pytest.approx(0.91) and s.rating == "谣言"
    assert s.passage_ids == ["zh-society-002#p0"]
    assert s.detail == "与中国人民银行于2021-07-16辟谣的说法高度相似（相似度0.91，结论：谣言）：“数字人民币推出后现金取消了”"


def test_known_rumor_below_threshold(settings):
    c = claim("数字人民币推出后现金将被取消")
    below = settings.known_rumor_similarity - 0.01
    assert known_rumor_signals(c, [(DEBUNK, below)], settings) == []
    assert len(known_rumor_signals(c, [(DEBUNK, settings.known_rumor_similarity)], settings)) == 1


def test_a_high_cosine_without_shared_words_is_not_a_match(settings):
    # e5 scores these two unrelated posts 0.88: the debunked rumor must also share the claim's words.
    c = claim("我家楼下新开的奶茶店第一天就排了两百人的长队。")
    school = {**DEBUNK, "id": "zh-society-092", "rumor": "刚刚！某小学开学第一天校舍就塌了，孩子们都在里面，家长快看！"}
    assert known_rumor_signals(c, [(school, 0.88)], settings) == []
    assert len(known_rumor_signals(c, [(school, 0.88)], settings.with_(known_rumor_min_overlap=0))) == 1


def test_known_rumors_best_first_in_english(settings):
    c = claim("5G towers spread the coronavirus", lang="en")
    rumor = {**DEBUNK, "id": "en-8", "publisher": "WHO Mythbusters", "rumor": "5G mobile networks spread the coronavirus"}
    other = {**DEBUNK, "id": "en-1", "publisher": "AFP Fact Check", "published_at": None, "rating": "False", "rumor": "",
             "title": "5G towers do not spread the coronavirus"}
    signals = known_rumor_signals(c, [(rumor, 0.85), (other, 0.95)], settings)
    assert [s.passage_ids[0] for s in signals] == ["en-1#p0", "en-8#p0"]
    assert signals[0].detail == ("closely matches a rumor debunked by AFP Fact Check (similarity 0.95, rating: False): "
                                 "\"5G towers do not spread the coronavirus\"")


# ------------------------------------------------------------------------------------------ together
def test_all_three_signals_at_once(settings):
    text = "紧急通知：" + FLOOD_CLAIM
    evidence = [ev("zz#p0", FLOOD_2021, date(2021, 7, 21), kind="debunk", publisher="郑州辟谣")]
    signals = detect_signals(claim(text), evidence, [({**DEBUNK, "id": "zz", "rumor": FLOOD_CLAIM}, 0.9)], settings, POST)
    assert kinds(signals) == ["known_rumor", "old_news_recycled", "fake_official_source"]
    assert all(0 <= s.strength <= 1 for s in signals)


def test_nothing_to_say(settings):
    assert detect_signals(claim("我家楼下新开的奶茶店第一天就排了两百人的长队。"), [], [], settings, POST) == []


def test_signals_never_import_later_stages():
    # The flow runs one way: signals may use config, schema, text, errors and dates, never claims/judge/llm.
    for name in ("signals.py", "dates.py"):
        tree = ast.parse((Path(__file__).parent.parent / "factcheck" / name).read_text(encoding="utf-8"))
        modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level}
        assert modules <= {"config", "schema", "text", "errors", "dates"}, modules


def test_a_debunk_tags_give_its_tactics_in_the_project_vocabulary():
    from factcheck.signals import debunk_tactics

    assert [t.value for t in debunk_tactics({"tags": '["AI谣言", "fabricated", "exaggeration", "fabricated"]'})] == ["fabricated", "exaggeration"]
    assert debunk_tactics({"tags": ["pseudo_science", "健康"]})[0].value == "pseudo_science"
    assert debunk_tactics({"tags": "not json"}) == [] and debunk_tactics({}) == []
