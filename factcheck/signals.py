"""Deterministic signals (no model): claim + evidence + debunk matches -> ``Signal`` records for the judge.

Three checks, each built from small pure helpers that are tested on their own:

- ``old_news_recycled`` (翻炒旧闻): the dates the claim implies against the dates of the evidence about the same
  event. Evidence that is about the claim (lexical overlap, :func:`lexical_overlap`) and dated at least
  ``old_news_min_days`` before the claimed date means the story existed long before the claim says it happened.
  A place the claim names that differs from the place of strongly matching evidence (:func:`find_places`) is
  the same tactic, re-located; it is named in the detail, and on its own gives a weaker signal.
- ``fake_official_source`` (冒充官方发布): framing as a press conference, notice, bulletin, red-header document or
  news report (:func:`official_framing`) with no release from the named body (:func:`find_bodies`) among the
  evidence that is about the claim.
- ``known_rumor``: a close match (``known_rumor_similarity``) to a rumor a fact-checker already debunked.

Details are written in the claim's language. Every threshold is a ``Settings`` field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date

from .config import Settings
from .dates import DateMention, extract_dates, format_date, format_mention
from .schema import Claim, Evidence, Signal, TacticName, passage_id
from .text import to_simplified, tokenize

# ---------------------------------------------------------------------------------------------- text helpers
_FULLWIDTH = {**{0xFF10 + i: ord("0") + i for i in range(10)}, **{0xFF21 + i: ord("A") + i for i in range(26)}, **{0xFF41 + i: ord("a") + i for i in range(26)}}


def _scan_form(text: str) -> str:
    """Simplified Chinese with ASCII digits and letters, for matching names; kept only when it has the same
    length as ``text``, so spans found in it are spans of the original."""
    folded = to_simplified(text.translate(_FULLWIDTH))
    return folded if len(folded) == len(text) else text


def _is_zh(lang: str) -> bool:
    return lang.lower().startswith("zh")


# ---------------------------------------------------------------------------------------------- lexical overlap
# Words that frame a claim (time, attribution, announcement) rather than say what happened: they must not make
# a passage look like it is about the claim, nor keep a real release from matching it.
_FRAME_WORDS = frozenset(
    "今天 今日 昨天 昨日 前天 明天 刚刚 刚才 近日 日前 近期 本周 上周 下周 本月 上月 今年 去年 前年 明年 "
    "新闻 发布 发布会 新闻发布会 记者会 宣布 通报 通知 紧急 紧急通知 官方 报道 消息 表示 文件 红头 红头文件 公告 通告 "
    "正式 重磅 最新 据悉 称 网传 听说 大家 转发 扩散 注意 提醒 "
    "today yesterday tomorrow tonight week month year last earlier recently breaking news press conference briefing "
    "announce announced announces said says official notice statement according report reported reports "
    "government ministry urgent".split()
)
_EN_SUFFIXES = ("ing", "ed", "es", "s")
_NUMBER = re.compile(r"[\d.,:%]+")


def _stem(token: str) -> str:
    """A crude English stem (floods/flooded -> flood) so inflection does not hide overlap; Chinese passes."""
    if not token.isascii() or len(token) <= 4:
        return token
    for suffix in _EN_SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 3 and not token.endswith("ss"):
            return token[: -len(suffix)]
    return token


def content_tokens(text: str) -> set[str]:
    """The words that say what a text is about: tokens without plain numbers, single Han characters, short
    Latin words or framing words (dates, 'announced', 发布会), English words stemmed."""
    out = set()
    for tok in tokenize(text):
        if _NUMBER.fullmatch(tok) or tok in _FRAME_WORDS:
            continue  # numbers (dates, counts) differ between retellings of one story; 5g, mu5735 stay
        if tok.isascii():
            if len(tok) <= 2 and tok.isalpha():
                continue  # of, us, ok; but 5g stays
        elif len(tok) < 2:
            continue
        stem = _stem(tok)
        if stem not in _FRAME_WORDS:
            out.add(stem)
    return out


def lexical_overlap(claim_text: str, passage_text: str) -> float:
    """Share of the claim's content words found in the passage, in [0, 1] (0 when the claim has none)."""
    claim = content_tokens(claim_text)
    if not claim:
        return 0.0
    return len(claim & content_tokens(passage_text)) / len(claim)


def _evidence_text(ev: Evidence) -> str:
    return f"{ev.title}\n{ev.text}" if ev.title else ev.text


# ---------------------------------------------------------------------------------------------- places
# (Chinese name, English name, the place it lies in). Provinces lie in 中国; cities in their province.
_PLACE_ROWS: list[tuple[str, str, str]] = [
    # provinces, municipalities, autonomous regions, SARs
    ("北京", "Beijing", "中国"), ("天津", "Tianjin", "中国"), ("上海", "Shanghai", "中国"), ("重庆", "Chongqing", "中国"),
    ("河北", "Hebei", "中国"), ("山西", "Shanxi", "中国"), ("辽宁", "Liaoning", "中国"), ("吉林", "Jilin", "中国"),
    ("黑龙江", "Heilongjiang", "中国"), ("江苏", "Jiangsu", "中国"), ("浙江", "Zhejiang", "中国"), ("安徽", "Anhui", "中国"),
    ("福建", "Fujian", "中国"), ("江西", "Jiangxi", "中国"), ("山东", "Shandong", "中国"), ("河南", "Henan", "中国"),
    ("湖北", "Hubei", "中国"), ("湖南", "Hunan", "中国"), ("广东", "Guangdong", "中国"), ("海南", "Hainan", "中国"),
    ("四川", "Sichuan", "中国"), ("贵州", "Guizhou", "中国"), ("云南", "Yunnan", "中国"), ("陕西", "Shaanxi", "中国"),
    ("甘肃", "Gansu", "中国"), ("青海", "Qinghai", "中国"), ("台湾", "Taiwan", "中国"), ("内蒙古", "Inner Mongolia", "中国"),
    ("广西", "Guangxi", "中国"), ("西藏", "Tibet", "中国"), ("宁夏", "Ningxia", "中国"), ("新疆", "Xinjiang", "中国"),
    ("香港", "Hong Kong", "中国"), ("澳门", "Macau", "中国"),
    # cities and counties that rumors name
    ("石家庄", "Shijiazhuang", "河北"), ("唐山", "Tangshan", "河北"), ("保定", "Baoding", "河北"), ("邯郸", "Handan", "河北"),
    ("秦皇岛", "Qinhuangdao", "河北"), ("张家口", "Zhangjiakou", "河北"), ("廊坊", "Langfang", "河北"), ("涿州", "Zhuozhou", "河北"),
    ("太原", "Taiyuan", "山西"), ("呼和浩特", "Hohhot", "内蒙古"), ("包头", "Baotou", "内蒙古"),
    ("沈阳", "Shenyang", "辽宁"), ("大连", "Dalian", "辽宁"), ("长春", "Changchun", "吉林"), ("哈尔滨", "Harbin", "黑龙江"),
    ("南京", "Nanjing", "江苏"), ("苏州", "Suzhou", "江苏"), ("无锡", "Wuxi", "江苏"), ("徐州", "Xuzhou", "江苏"),
    ("常州", "Changzhou", "江苏"), ("南通", "Nantong", "江苏"), ("杭州", "Hangzhou", "浙江"), ("宁波", "Ningbo", "浙江"),
    ("温州", "Wenzhou", "浙江"), ("绍兴", "Shaoxing", "浙江"), ("嘉兴", "Jiaxing", "浙江"), ("金华", "Jinhua", "浙江"),
    ("义乌", "Yiwu", "浙江"), ("合肥", "Hefei", "安徽"), ("芜湖", "Wuhu", "安徽"), ("福州", "Fuzhou", "福建"),
    ("厦门", "Xiamen", "福建"), ("泉州", "Quanzhou", "福建"), ("莆田", "Putian", "福建"), ("南昌", "Nanchang", "江西"),
    ("赣州", "Ganzhou", "江西"), ("新余", "Xinyu", "江西"), ("九江", "Jiujiang", "江西"), ("济南", "Jinan", "山东"),
    ("青岛", "Qingdao", "山东"), ("烟台", "Yantai", "山东"), ("潍坊", "Weifang", "山东"), ("临沂", "Linyi", "山东"),
    ("郑州", "Zhengzhou", "河南"), ("洛阳", "Luoyang", "河南"), ("新乡", "Xinxiang", "河南"), ("南阳", "Nanyang", "河南"),
    ("武汉", "Wuhan", "湖北"), ("十堰", "Shiyan", "湖北"), ("宜昌", "Yichang", "湖北"), ("襄阳", "Xiangyang", "湖北"),
    ("长沙", "Changsha", "湖南"), ("岳阳", "Yueyang", "湖南"), ("株洲", "Zhuzhou", "湖南"), ("广州", "Guangzhou", "广东"),
    ("深圳", "Shenzhen", "广东"), ("珠海", "Zhuhai", "广东"), ("佛山", "Foshan", "广东"), ("东莞", "Dongguan", "广东"),
    ("汕头", "Shantou", "广东"), ("南宁", "Nanning", "广西"), ("桂林", "Guilin", "广西"), ("海口", "Haikou", "海南"),
    ("三亚", "Sanya", "海南"), ("成都", "Chengdu", "四川"), ("绵阳", "Mianyang", "四川"), ("雅安", "Ya'an", "四川"),
    ("汶川", "Wenchuan", "四川"), ("泸定", "Luding", "四川"), ("乐山", "Leshan", "四川"), ("宜宾", "Yibin", "四川"),
    ("九寨沟", "Jiuzhaigou", "四川"), ("贵阳", "Guiyang", "贵州"), ("昆明", "Kunming", "云南"), ("丽江", "Lijiang", "云南"),
    ("香格里拉", "Shangri-La", "云南"), ("拉萨", "Lhasa", "西藏"), ("西安", "Xi'an", "陕西"), ("延安", "Yan'an", "陕西"),
    ("兰州", "Lanzhou", "甘肃"), ("平凉", "Pingliang", "甘肃"), ("临夏", "Linxia", "甘肃"), ("积石山", "Jishishan", "甘肃"),
    ("西宁", "Xining", "青海"), ("玉树", "Yushu", "青海"), ("银川", "Yinchuan", "宁夏"), ("乌鲁木齐", "Urumqi", "新疆"),
    ("阿克苏", "Aksu", "新疆"), ("呼图壁", "Hutubi", "新疆"),
    # countries and major world cities
    ("中国", "China", ""), ("日本", "Japan", ""), ("韩国", "South Korea", ""), ("朝鲜", "North Korea", ""),
    ("美国", "United States", ""), ("英国", "United Kingdom", ""), ("法国", "France", ""), ("德国", "Germany", ""),
    ("俄罗斯", "Russia", ""), ("土耳其", "Turkey", ""), ("印度", "India", ""), ("印度尼西亚", "Indonesia", ""),
    ("泰国", "Thailand", ""), ("意大利", "Italy", ""), ("西班牙", "Spain", ""), ("澳大利亚", "Australia", ""),
    ("加拿大", "Canada", ""), ("巴西", "Brazil", ""), ("墨西哥", "Mexico", ""), ("埃及", "Egypt", ""),
    ("叙利亚", "Syria", ""), ("尼泊尔", "Nepal", ""), ("缅甸", "Myanmar", ""), ("菲律宾", "Philippines", ""),
    ("新西兰", "New Zealand", ""), ("新加坡", "Singapore", ""),
    ("东京", "Tokyo", "日本"), ("大阪", "Osaka", "日本"), ("首尔", "Seoul", "韩国"), ("纽约", "New York", "美国"),
    ("洛杉矶", "Los Angeles", "美国"), ("华盛顿", "Washington", "美国"), ("芝加哥", "Chicago", "美国"),
    ("旧金山", "San Francisco", "美国"), ("伦敦", "London", "英国"), ("巴黎", "Paris", "法国"), ("柏林", "Berlin", "德国"),
    ("莫斯科", "Moscow", "俄罗斯"), ("伊斯坦布尔", "Istanbul", "土耳其"), ("新德里", "New Delhi", "印度"), ("孟买", "Mumbai", "印度"),
    ("雅加达", "Jakarta", "印度尼西亚"), ("曼谷", "Bangkok", "泰国"), ("罗马", "Rome", "意大利"), ("马德里", "Madrid", "西班牙"),
    ("悉尼", "Sydney", "澳大利亚"), ("墨尔本", "Melbourne", "澳大利亚"), ("多伦多", "Toronto", "加拿大"), ("温哥华", "Vancouver", "加拿大"),
    ("里约热内卢", "Rio de Janeiro", "巴西"), ("圣保罗", "São Paulo", "巴西"), ("墨西哥城", "Mexico City", "墨西哥"),
    ("开罗", "Cairo", "埃及"), ("迪拜", "Dubai", ""), ("马尼拉", "Manila", "菲律宾"),
]
_PLACE_PARENT = {zh: parent for zh, _, parent in _PLACE_ROWS}
_PLACE_EN = {zh: en for zh, en, _ in _PLACE_ROWS}
_EN_PLACE_ALIASES = {en: zh for zh, en, _ in _PLACE_ROWS} | {
    "USA": "美国", "U.S.": "美国", "US": "美国", "UK": "英国", "Britain": "英国", "Türkiye": "土耳其", "Macao": "澳门",
    "Xian": "西安", "Korea": "韩国", "Sao Paulo": "圣保罗",
}
_ZH_PLACE_ALIASES = {zh: zh for zh in _PLACE_PARENT} | {"鄭州": "郑州", "廣州": "广州", "臺灣": "台湾", "韓國": "韩国"}
_ZH_PLACE_RE = re.compile("|".join(sorted(map(re.escape, _ZH_PLACE_ALIASES), key=len, reverse=True)))
_EN_PLACE_RE = re.compile(r"(?<![A-Za-z])(?:" + "|".join(sorted(map(re.escape, _EN_PLACE_ALIASES), key=len, reverse=True)) + r")(?![A-Za-z])")
# Words that contain a place name but are not one: Beijing time, marble, 大同小异.
_NOT_A_PLACE = re.compile(r"北京时间|大理石|中国人|中国式|中国特色|美国式|香港脚|印度洋|日本脑炎|日本人")


@dataclass(frozen=True)
class PlaceMention:
    name: str  # canonical Chinese name, e.g. 郑州
    text: str  # as written
    span: tuple[int, int]


def find_places(text: str) -> list[PlaceMention]:
    """Places named in ``text`` (Chinese or English), from a table good enough for China's provinces and
    rumor-prone cities plus major countries and world cities; longest name wins (印度尼西亚 over 印度)."""
    scan = _scan_form(text)
    blocked = [m.span() for m in _NOT_A_PLACE.finditer(scan)]
    found: list[PlaceMention] = []
    for pattern, table in ((_ZH_PLACE_RE, _ZH_PLACE_ALIASES), (_EN_PLACE_RE, _EN_PLACE_ALIASES)):
        for m in pattern.finditer(scan):
            if any(s <= m.start() < e for s, e in blocked):
                continue
            found.append(PlaceMention(table[m.group()], text[m.start():m.end()], m.span()))
    return sorted(found, key=lambda p: p.span)


def _ancestors(place: str) -> set[str]:
    out, seen = set(), place
    while _PLACE_PARENT.get(seen):
        seen = _PLACE_PARENT[seen]
        out.add(seen)
    return out


def places_compatible(a: str, b: str) -> bool:
    """True when one place is, or lies in, the other (郑州 and 河南, 河南 and 中国); different places are not."""
    return a == b or a in _ancestors(b) or b in _ancestors(a)


def place_name(place: str, lang: str) -> str:
    return place if _is_zh(lang) else _PLACE_EN.get(place, place)


# ---------------------------------------------------------------------------------------------- official bodies
@dataclass(frozen=True)
class _Body:
    key: str  # canonical Chinese name, also the display name in Chinese
    en: str
    zh_aliases: tuple[str, ...]
    en_aliases: tuple[str, ...] = ()
    parent: str = ""


_BODY_ROWS: list[_Body] = [
    _Body("国务院", "the State Council", ("国务院", "中华人民共和国国务院"), ("State Council",)),
    _Body("国务院办公厅", "the General Office of the State Council", ("国务院办公厅",), ("General Office of the State Council",), "国务院"),
    _Body("国务院新闻办公室", "the State Council Information Office", ("国务院新闻办公室", "国务院新闻办", "国新办"), ("State Council Information Office", "SCIO"), "国务院"),
    _Body("中共中央", "the CPC Central Committee", ("中共中央", "党中央"), ("CPC Central Committee",)),
    _Body("全国人大常委会", "the NPC Standing Committee", ("全国人民代表大会常务委员会", "全国人大常委会", "全国人大"), ("NPC Standing Committee", "National People's Congress")),
    _Body("国家卫健委", "the National Health Commission", ("国家卫生健康委员会", "国家卫生健康委", "国家卫健委", "卫健委", "卫生健康委", "卫生部"), ("National Health Commission", "NHC")),
    _Body("中国疾控中心", "the Chinese Center for Disease Control and Prevention", ("中国疾病预防控制中心", "中国疾控中心", "国家疾控局", "国家疾病预防控制局", "疾控中心"), ("China CDC", "Chinese Center for Disease Control"), "国家卫健委"),
    _Body("国家医保局", "the National Healthcare Security Administration", ("国家医疗保障局", "国家医保局", "医保局"), ("National Healthcare Security Administration",)),
    _Body("国家药监局", "the National Medical Products Administration", ("国家药品监督管理局", "国家药监局", "药监局"), ("National Medical Products Administration", "NMPA")),
    _Body("教育部", "the Ministry of Education", ("教育部",), ("Ministry of Education",)),
    _Body("公安部", "the Ministry of Public Security", ("公安部",), ("Ministry of Public Security",)),
    _Body("应急管理部", "the Ministry of Emergency Management", ("应急管理部", "应急部"), ("Ministry of Emergency Management",)),
    _Body("中国地震局", "the China Earthquake Administration", ("中国地震局", "国家地震局", "地震局"), ("China Earthquake Administration",)),
    _Body("中国地震台网中心", "the China Earthquake Networks Center", ("中国地震台网中心", "中国地震台网", "地震台网", "中国地震网"), ("China Earthquake Networks Center", "CENC"), "中国地震局"),
    _Body("中国气象局", "the China Meteorological Administration", ("中国气象局", "气象局"), ("China Meteorological Administration",)),
    _Body("中央气象台", "the National Meteorological Center", ("中央气象台", "气象台"), ("National Meteorological Center",), "中国气象局"),
    _Body("中国人民银行", "the People's Bank of China", ("中国人民银行", "人民银行", "央行"), ("People's Bank of China", "PBOC", "PBoC")),
    _Body("国家金融监督管理总局", "the National Financial Regulatory Administration", ("国家金融监督管理总局", "金融监管总局"), ("National Financial Regulatory Administration", "NFRA")),
    _Body("中国银保监会", "the China Banking and Insurance Regulatory Commission", ("中国银行保险监督管理委员会", "中国银保监会", "银保监会", "银监会"), ("CBIRC",)),
    _Body("中国证监会", "the China Securities Regulatory Commission", ("中国证券监督管理委员会", "中国证监会", "证监会"), ("China Securities Regulatory Commission", "CSRC")),
    _Body("财政部", "the Ministry of Finance", ("财政部",), ("Ministry of Finance",)),
    _Body("国家税务总局", "the State Taxation Administration", ("国家税务总局", "税务总局"), ("State Taxation Administration",)),
    _Body("人力资源和社会保障部", "the Ministry of Human Resources and Social Security", ("人力资源和社会保障部", "人力资源社会保障部", "人社部"), ("Ministry of Human Resources and Social Security",)),
    _Body("国家市场监督管理总局", "the State Administration for Market Regulation", ("国家市场监督管理总局", "国家市场监管总局", "市场监管总局"), ("State Administration for Market Regulation", "SAMR")),
    _Body("国家互联网信息办公室", "the Cyberspace Administration of China", ("国家互联网信息办公室", "国家网信办", "中央网信办", "网信办"), ("Cyberspace Administration of China",)),
    _Body("工业和信息化部", "the Ministry of Industry and Information Technology", ("工业和信息化部", "工信部"), ("Ministry of Industry and Information Technology", "MIIT")),
    _Body("交通运输部", "the Ministry of Transport", ("交通运输部", "交通部"), ("Ministry of Transport",)),
    _Body("国家发展改革委", "the National Development and Reform Commission", ("国家发展和改革委员会", "国家发展改革委", "国家发改委", "发展改革委", "发改委"), ("National Development and Reform Commission", "NDRC")),
    _Body("外交部", "the Ministry of Foreign Affairs", ("外交部",), ("Ministry of Foreign Affairs", "Foreign Ministry")),
    _Body("国防部", "the Ministry of National Defense", ("国防部",), ("Ministry of National Defense",)),
    _Body("商务部", "the Ministry of Commerce", ("商务部",), ("Ministry of Commerce",)),
    _Body("民政部", "the Ministry of Civil Affairs", ("民政部",), ("Ministry of Civil Affairs",)),
    _Body("水利部", "the Ministry of Water Resources", ("水利部",), ("Ministry of Water Resources",)),
    _Body("自然资源部", "the Ministry of Natural Resources", ("自然资源部",), ("Ministry of Natural Resources",)),
    _Body("生态环境部", "the Ministry of Ecology and Environment", ("生态环境部", "环保部"), ("Ministry of Ecology and Environment",)),
    _Body("住房和城乡建设部", "the Ministry of Housing and Urban-Rural Development", ("住房和城乡建设部", "住建部"), ("Ministry of Housing and Urban-Rural Development",)),
    _Body("农业农村部", "the Ministry of Agriculture and Rural Affairs", ("农业农村部", "农业部"), ("Ministry of Agriculture and Rural Affairs",)),
    _Body("文化和旅游部", "the Ministry of Culture and Tourism", ("文化和旅游部", "文旅部"), ("Ministry of Culture and Tourism",)),
    _Body("国家统计局", "the National Bureau of Statistics", ("国家统计局", "统计局"), ("National Bureau of Statistics",)),
    _Body("海关总署", "the General Administration of Customs", ("海关总署",), ("General Administration of Customs",)),
    _Body("中国民用航空局", "the Civil Aviation Administration of China", ("中国民用航空局", "中国民航局", "民航局"), ("Civil Aviation Administration of China", "CAAC")),
    _Body("中国国家铁路集团", "China State Railway Group", ("中国国家铁路集团", "国铁集团", "中国铁路"), ("China State Railway Group", "China Railway")),
    _Body("最高人民法院", "the Supreme People's Court", ("最高人民法院", "最高法"), ("Supreme People's Court",)),
    _Body("最高人民检察院", "the Supreme People's Procuratorate", ("最高人民检察院", "最高检"), ("Supreme People's Procuratorate",)),
    # state media: framing as their report is framing as official news
    _Body("新华社", "Xinhua", ("新华通讯社", "新华社", "新华网"), ("Xinhua", "Xinhua News Agency")),
    _Body("中央广播电视总台", "CCTV", ("中央广播电视总台", "中央电视台", "央视新闻", "央视", "新闻联播", "央广网", "中央人民广播电台"), ("CCTV", "CGTN", "China Central Television")),
    _Body("人民日报", "People's Daily", ("人民日报", "人民网"), ("People's Daily",)),
    _Body("中国新闻社", "China News Service", ("中国新闻社", "中新社", "中新网"), ("China News Service",)),
    # international and foreign
    _Body("世界卫生组织", "the WHO", ("世界卫生组织", "世卫组织", "世卫"), ("World Health Organization", "World Health Organisation", "WHO")),
    _Body("联合国", "the United Nations", ("联合国",), ("United Nations", "UN")),
    _Body("美国疾控中心", "the US CDC", ("美国疾病控制与预防中心", "美国疾控中心"), ("Centers for Disease Control and Prevention", "Centers for Disease Control", "CDC")),
    _Body("美国食品药品监督管理局", "the FDA", ("美国食品药品监督管理局", "美国食药监局", "美国FDA"), ("Food and Drug Administration", "FDA")),
    _Body("美国国立卫生研究院", "the NIH", ("美国国立卫生研究院",), ("National Institutes of Health", "NIH")),
    _Body("英国国家医疗服务体系", "the NHS", ("英国国家医疗服务体系",), ("National Health Service", "NHS")),
    _Body("白宫", "the White House", ("白宫",), ("White House",)),
    _Body("美国国务院", "the US State Department", ("美国国务院",), ("State Department", "Department of State")),
    _Body("欧盟委员会", "the European Commission", ("欧盟委员会", "欧盟"), ("European Commission", "European Union", "EU")),
    _Body("美国联邦紧急事务管理局", "FEMA", ("美国联邦紧急事务管理局",), ("Federal Emergency Management Agency", "FEMA")),
    _Body("美国国家航空航天局", "NASA", ("美国国家航空航天局", "美国宇航局"), ("NASA",)),
    _Body("卫生部门", "the Ministry of Health", ("卫生部门",), ("Ministry of Health", "Department of Health", "Health Ministry")),
]
_BODIES = {b.key: b for b in _BODY_ROWS}
_ZH_BODY_ALIAS = {a: b.key for b in _BODY_ROWS for a in b.zh_aliases}
# Acronyms match in capitals only ("WHO", not "who"); names match in any case.
_EN_BODY_ALIAS = {a: b.key for b in _BODY_ROWS for a in b.en_aliases}
_ZH_BODY_RE = re.compile("|".join(sorted(map(re.escape, _ZH_BODY_ALIAS), key=len, reverse=True)))
_EN_BODY_RE = re.compile(
    r"(?<![A-Za-z])(?:"
    + "|".join(re.escape(a) if a.isupper() else "(?i:" + re.escape(a) + ")" for a in sorted(_EN_BODY_ALIAS, key=len, reverse=True))
    + r")(?![A-Za-z])"
)
_EN_BODY_LOWER = {a.lower(): k for a, k in _EN_BODY_ALIAS.items()}

# Local bodies: a known Chinese place, its level, and an office (郑州市公安局, 河北省公安厅, 郑州警方).
# (canonical office, its aliases, English name). Every local office lies under the local government.
_LOCAL_OFFICES: list[tuple[str, tuple[str, ...], str]] = [
    ("人民政府", ("人民政府", "政府"), "government"),
    ("新闻办公室", ("人民政府新闻办公室", "政府新闻办公室", "政府新闻办", "新闻办公室", "新闻办"), "information office"),
    ("公安局", ("公安局", "公安厅", "警方", "网警", "交警支队", "交警"), "police"),
    ("卫健委", ("卫生健康委员会", "卫生健康委", "卫健委", "卫生局"), "health commission"),
    ("教育局", ("教育局", "教育厅", "教委"), "education bureau"),
    ("应急管理局", ("应急管理局", "应急管理厅"), "emergency management bureau"),
    ("气象局", ("气象局", "气象台"), "meteorological bureau"),
    ("地震局", ("地震局",), "earthquake bureau"),
    ("市场监督管理局", ("市场监督管理局", "市场监管局"), "market regulator"),
    ("网信办", ("互联网信息办公室", "网信办"), "cyberspace office"),
    ("疾控中心", ("疾病预防控制中心", "疾控中心"), "CDC"),
]
_LOCAL_ALIAS = {a: canon for canon, aliases, _ in _LOCAL_OFFICES for a in aliases}
_LOCAL_EN = {canon: en for canon, _, en in _LOCAL_OFFICES}
_ZH_CN_PLACES = [zh for zh, _, parent in _PLACE_ROWS if zh == "中国" or parent == "中国" or _PLACE_PARENT.get(parent) == "中国"]
_LOCAL_RE = re.compile(
    r"(?P<place>" + "|".join(sorted(p for p in _ZH_CN_PLACES if p != "中国")) + r")"
    r"(?P<level>省|市|自治区|壮族自治区|回族自治区|维吾尔自治区|特别行政区|县|区)?"
    r"(?P<office>" + "|".join(sorted(map(re.escape, _LOCAL_ALIAS), key=len, reverse=True)) + r")"
)
_LOCAL_PREFIX = "local:"


@dataclass(frozen=True)
class BodyMention:
    key: str  # canonical name: a national or international body (国家卫健委), or 'local:郑州|公安局'
    text: str  # as written
    span: tuple[int, int]


def find_bodies(text: str) -> list[BodyMention]:
    """Official bodies and state media named in ``text`` (aliases folded: 卫健委 -> 国家卫健委, WHO ->
    世界卫生组织), and local offices of known places (郑州市公安局, 郑州警方 -> local:郑州|公安局).
    The longest name wins (美国疾控中心 over 疾控中心, 北京市卫健委 over 卫健委)."""
    scan = _scan_form(text)
    cands: list[BodyMention] = []
    for m in _LOCAL_RE.finditer(scan):
        key = f"{_LOCAL_PREFIX}{m.group('place')}|{_LOCAL_ALIAS[m.group('office')]}"
        cands.append(BodyMention(key, text[m.start():m.end()], m.span()))
    for m in _ZH_BODY_RE.finditer(scan):
        cands.append(BodyMention(_ZH_BODY_ALIAS[m.group()], text[m.start():m.end()], m.span()))
    for m in _EN_BODY_RE.finditer(scan):
        key = _EN_BODY_ALIAS.get(m.group()) or _EN_BODY_LOWER[m.group().lower()]
        cands.append(BodyMention(key, text[m.start():m.end()], m.span()))
    cands.sort(key=lambda b: (-(b.span[1] - b.span[0]), b.span[0]))
    taken: list[BodyMention] = []
    for c in cands:
        if all(c.span[1] <= t.span[0] or c.span[0] >= t.span[1] for t in taken):
            taken.append(c)
    return sorted(taken, key=lambda b: b.span)


def _body_parent(key: str) -> str:
    if key.startswith(_LOCAL_PREFIX):
        place, office = key[len(_LOCAL_PREFIX):].split("|")
        return "" if office == "人民政府" else f"{_LOCAL_PREFIX}{place}|人民政府"
    return _BODIES[key].parent


def bodies_related(claimed: str, publisher: str) -> bool:
    """True when a release by ``publisher`` (a body key) counts as coming from the ``claimed`` body: the same
    body, its parent or one of its offices (国务院新闻办公室 speaks for 国务院; 中国地震台网中心 for 中国地震局)."""
    return claimed == publisher or _body_parent(claimed) == publisher or _body_parent(publisher) == claimed


def body_name(key: str, lang: str) -> str:
    """A body's name for a reader: 国家卫健委 / the National Health Commission; 郑州市公安局 / Zhengzhou police."""
    if key.startswith(_LOCAL_PREFIX):
        place, office = key[len(_LOCAL_PREFIX):].split("|")
        if _is_zh(lang):
            level = "" if place in ("内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门") else (
                "省" if _PLACE_PARENT.get(place) == "中国" and place not in ("北京", "天津", "上海", "重庆") else "市")
            return f"{place}{level}{office}"
        return f"{_PLACE_EN.get(place, place)} {_LOCAL_EN[office]}"
    return key if _is_zh(lang) else _BODIES[key].en


# ---------------------------------------------------------------------------------------------- official framing
@dataclass(frozen=True)
class Framing:
    phrase: str  # as written, from the body (when it leads) to the framing words
    span: tuple[int, int]
    body: str | None  # body key (see find_bodies); None when the framing names no body


# Framing that stands on its own: a press conference, an official notice, a red-header document. A bare 发布会
# is left out (product launches have them); after a named body it still counts (卫健委在发布会上).
_ZH_STRONG_CUE = re.compile(
    r"新闻发布会|记者会|新闻通气会|吹风会|答记者问|官方通报|警方通报|情况通报|通报称|通报显示|最新通报|"
    r"紧急(?:通知|预报|预警|通告|公告|声明|提醒)|重要通知|最新通知|官方通知|正式通知|下发通知|印发通知|发出通知|通知称|通知显示|关于[^，。！？\n]{2,30}的通知|"
    r"红头文件|官方文件|正式文件|内部文件|权威发布|官方消息|官方发布|官宣|新闻联播|"
    r"(?:官方|政府|国家|有关部门|相关部门|权威部门|主管部门|上级)(?:正式|刚刚|紧急)?(?:宣布|发布|通知|通报|公布|规定|发文|下发|出台|证实|明确)|"
    r"据(?:媒体)?报道|媒体报道|^\s*(?:通知|通告|公告)\s*[:：]"
)
_EN_STRONG_CUE = re.compile(
    r"(?i:press conference|press briefing|news conference|press release|official (?:notice|statement|announcement|document|circular|bulletin)"
    r"|emergency notice|government notice|leaked (?:memo|document)|according to (?:an |the )?official(?: sources?| notice| statement| document)?"
    r"|(?:the )?(?:ministry|government|authorities|officials|health officials|state media)\s+(?:has |have |had |officially |just )?"
    r"(?:said|says|announced|announces|confirmed|confirms|declared|declares|issued|issues|ordered|orders|warned|warns))"
    r"|\bBREAKING\b|\bBreaking(?= ?[:!-])"
)
# What turns a named body into framing when it follows the body within the same clause.
_ZH_BODY_VERB = re.compile(
    r"[^，。！？；,.!?;\n]{0,20}(?:发布会|记者会|发布|宣布|通报|通知|公告|通告|表示|称|证实|官宣|发文|印发|下发|出台|公布|"
    r"报道|消息|指出|要求|规定|提醒|发出|透露|回应|介绍|预报|预警|声明|下达)"
)
_EN_BODY_VERB = re.compile(
    r"(?:'s?)?\s+(?:has |have |had |officially |just |today |on \w+ )?(?:said|says|announced|announces|confirmed|confirms|"
    r"declared|declares|issued|issues|warned|warns|stated|states|reported|reports|ordered|orders|revealed|reveals|released|"
    r"releases|told)\b"
)
_BEFORE_BODY = re.compile(r"(?:据|根据|援引|来自)\s*$|(?i:according to (?:the )?|sources? (?:at|from) (?:the )?)$")
_SENTENCE_END = re.compile(r"[。！？!?；;\n]|\.(?=\s|$)")


def _sentence_bounds(text: str, pos: int) -> tuple[int, int]:
    start = 0
    for m in _SENTENCE_END.finditer(text, 0, pos):
        start = m.end()
    m = _SENTENCE_END.search(text, pos)
    return start, (m.start() if m else len(text))


def official_framing(text: str) -> list[Framing]:
    """Where ``text`` presents itself as an official press conference, notice, bulletin, red-header document
    or news report, with the body it names, if any. A named body counts only with framing words around it
    (卫健委宣布, 据新华社, "the WHO said"); a bare mention of a body (教育部的数据) is not framing."""
    scan = _scan_form(text)
    found: list[Framing] = []
    bodies = find_bodies(text)
    for b in bodies:
        s, e = b.span
        sent_s, sent_e = _sentence_bounds(scan, s)
        # An English name may be followed by English or Chinese words (WHO宣布); a Chinese one by Chinese.
        verb = (_EN_BODY_VERB.match(scan, e, sent_e) if scan[s:e].isascii() else None) or _ZH_BODY_VERB.match(scan, e, sent_e)
        lead = _BEFORE_BODY.search(scan, sent_s, s)
        if verb is not None:
            start = lead.start() if lead else s
            found.append(Framing(text[start:verb.end()], (start, verb.end()), b.key))
        elif lead is not None:
            found.append(Framing(text[lead.start():e], (lead.start(), e), b.key))
    for pattern in (_ZH_STRONG_CUE, _EN_STRONG_CUE):
        for m in pattern.finditer(scan):
            if any(f.span[0] <= m.start() < f.span[1] for f in found):
                continue  # already part of a body's framing (卫健委在今天的新闻发布会上宣布)
            sent_s, sent_e = _sentence_bounds(scan, m.start())
            near = [b for b in bodies if sent_s <= b.span[0] < sent_e]
            # The cue's body is the one named closest to it in the same sentence, before or after it.
            body = min(near, key=lambda b: min(abs(b.span[1] - m.start()), abs(b.span[0] - m.end()))).key if near else None
            found.append(Framing(text[m.start():m.end()], m.span(), body))
    return sorted(found, key=lambda f: f.span)


# ---------------------------------------------------------------------------------------------- old news
def claimed_dates(text: str, post_date: date | None) -> list[DateMention]:
    """The dates a claim speaks of: its date mentions (relative ones against ``post_date``); with none but a
    post date, the claim is taken to speak of the post date itself (an implicit mention, ``text`` empty)."""
    mentions = extract_dates(text, post_date)
    if mentions or post_date is None:
        return mentions
    return [DateMention("", (0, 0), post_date, post_date, "day", True)]


def evidence_date(ev: Evidence) -> tuple[date, str] | None:
    """When the evidence shows the story existed, and how that is known: ``(published_at, 'published')``, or
    for an undated passage the latest absolute date in its text, ``(d, 'mentioned')``. None when it has neither
    (an undated passage says nothing about time; that is not a failure)."""
    if ev.published_at is not None:
        return ev.published_at, "published"
    mentions = extract_dates(_evidence_text(ev), None)
    if not mentions:
        return None
    return max(m.end for m in mentions), "mentioned"


def old_news_strength(gap_days: int, settings: Settings) -> float:
    """0 below ``old_news_min_days``; 0.5 at it, growing linearly to 1 at ``old_news_full_days``."""
    if gap_days < settings.old_news_min_days:
        return 0.0
    span = max(1, settings.old_news_full_days - settings.old_news_min_days)
    return round(min(1.0, 0.5 + 0.5 * (gap_days - settings.old_news_min_days) / span), 3)


def gap_words(days: int, lang: str) -> str:
    """A gap in the largest sensible unit: 约3年 / about 3 years, 约8个月, 约40天."""
    zh = _is_zh(lang)
    if days >= 365:
        n = round(days / 365.25)
        return f"约{n}年" if zh else f"about {n} year{'s' if n != 1 else ''}"
    if days >= 60:
        n = round(days / 30.44)
        return f"约{n}个月" if zh else f"about {n} months"
    return f"{days}天" if zh else f"{days} days"


def _claim_places(claim: Claim) -> set[str]:
    names = {p.name for p in find_places(claim.text)}
    for written in claim.places:
        names |= {p.name for p in find_places(written)}
    return names


def _places_conflict(claim_places: set[str], ev_places: set[str]) -> bool:
    if not claim_places or not ev_places:
        return False
    return not any(places_compatible(c, e) for c in claim_places for e in ev_places)


def old_news_signal(claim: Claim, evidence: list[Evidence], settings: Settings, post_date: date | None = None) -> list[Signal]:
    """``old_news_recycled`` when evidence about the same event is dated ``old_news_min_days`` or more before
    the claimed date, or (weaker) when strongly matching evidence places the event elsewhere. A release about
    the event dated near the claimed date, in a compatible place, confirms the event is current: no signal."""
    lang = claim.lang
    claimed = claimed_dates(claim.text, post_date)
    claim_places = _claim_places(claim)
    related = []
    for ev in evidence[: settings.signal_top_evidence]:
        overlap = lexical_overlap(claim.text, _evidence_text(ev))
        if overlap >= settings.signal_event_overlap:
            related.append((ev, overlap))
    if not related:
        return []
    claim_start = min(m.start for m in claimed) if claimed else None
    old: list[tuple[Evidence, date, str, int]] = []
    moved: list[tuple[Evidence, set[str]]] = []
    for ev, overlap in related:
        dated = evidence_date(ev)
        ev_places = {p.name for p in find_places(_evidence_text(ev))}
        conflict = _places_conflict(claim_places, ev_places)
        gap = (claim_start - dated[0]).days if (dated and claim_start) else None
        if gap is not None and gap >= settings.old_news_min_days:
            old.append((ev, dated[0], dated[1], gap))
        elif ev.kind == "release" and gap is not None and not conflict:
            # A release from the claimed time and place: the event is current. (A recent debunk proves
            # nothing of the kind: its date is when the rumor was checked, not when the event happened.)
            return []
        if conflict and overlap >= settings.signal_strong_overlap:
            moved.append((ev, ev_places))
    if not old and not moved:
        return []

    parts: list[str] = []
    strength = 0.0
    ids: list[str] = []
    if old:
        # The most recent old evidence gives the smallest, safest gap.
        ev, when, how, gap = min(old, key=lambda o: o[3])
        strength = old_news_strength(gap, settings)
        implicit = all(m.text == "" for m in claimed)
        if implicit:
            strength = round(strength * settings.old_news_implicit_weight, 3)
        parts.append(_date_detail(claimed, when, how, gap, lang))
        ids += [o[0].passage_id for o in sorted(old, key=lambda o: o[3])]
    if moved:
        strength = max(strength, settings.relocated_strength)
        ev_places = sorted({p for _, ps in moved for p in ps})
        parts.append(_place_detail(sorted(claim_places), ev_places, lang))
        ids += [ev.passage_id for ev, _ in moved if ev.passage_id not in ids]
    sep = "；" if _is_zh(lang) else "; "
    return [Signal(kind="old_news_recycled", strength=strength, detail=sep.join(parts), passage_ids=ids)]


def _date_detail(claimed: list[DateMention], when: date, how: str, gap: int, lang: str) -> str:
    first = min(claimed, key=lambda m: m.start)
    zh = _is_zh(lang)
    if first.text == "":
        said = (f"未注明日期，按发布日{format_date(first.start, 'day', lang)}视为新近事件" if zh
                else f"undated, so taken as news of the post date, {format_date(first.start, 'day', lang)}")
    else:
        value = format_mention(first, lang)
        if first.relative and first.text.strip() != value:
            value = f"{first.text}（{value}）" if zh else f"{first.text} ({value})"
        said = f"声称为{value}的事件" if zh else f"claimed as an event of {value}"
    verb = ("发布于" if how == "published" else "所载日期为") if zh else ("published" if how == "published" else "dated")
    when_s = format_date(when, "day", lang)
    gap_s = gap_words(gap, lang)
    if zh:
        return f"{said}，匹配证据{verb}{when_s}（早{gap_s}）"
    return f"{said}; matching evidence {verb} {when_s} ({gap_s} earlier)"


def _place_detail(claim_places: list[str], ev_places: list[str], lang: str) -> str:
    c = "、".join(place_name(p, lang) for p in claim_places) if _is_zh(lang) else ", ".join(place_name(p, lang) for p in claim_places)
    e = "、".join(place_name(p, lang) for p in ev_places) if _is_zh(lang) else ", ".join(place_name(p, lang) for p in ev_places)
    if _is_zh(lang):
        return f"地点不符：声称发生在{c}，高度匹配的证据所述地点为{e}"
    return f"place mismatch: the claim places it in {c}, the closely matching evidence in {e}"


# ---------------------------------------------------------------------------------------------- fake official
def _claim_without(text: str, spans: list[tuple[int, int]]) -> str:
    """The claim with its framing cut out, so '卫健委在发布会上宣布' does not count against a release's overlap."""
    out, last = [], 0
    for s, e in sorted(spans):
        out.append(text[last:s])
        out.append(" ")
        last = max(last, e)
    out.append(text[last:])
    return "".join(out)


def fake_official_signal(claim: Claim, evidence: list[Evidence], settings: Settings) -> list[Signal]:
    """``fake_official_source`` when the claim is framed as official (:func:`official_framing`, or a body
    listed in ``claim.sources``) and no release about it comes from the body it names (or, when it names
    none, from any body)."""
    framings = official_framing(claim.text)
    named_in_text = {f.body for f in framings if f.body}
    # Bodies the claim extractor saw the claim attribute itself to (Claim.sources) are framing too.
    for source in claim.sources:
        for b in find_bodies(source):
            if b.key not in named_in_text:
                framings.append(Framing(source, (0, 0), b.key))
                named_in_text.add(b.key)
    if not framings:
        return []
    lang = claim.lang
    zh = _is_zh(lang)
    substance = _claim_without(claim.text, [f.span for f in framings if f.span != (0, 0)])
    releases = [ev for ev in evidence if ev.kind == "release"]
    relevant = [ev for ev in releases if lexical_overlap(substance, _evidence_text(ev)) >= settings.official_release_overlap]
    named = sorted({f.body for f in framings if f.body})
    phrase = next(f.phrase for f in framings)
    if not named:
        if relevant:
            return []
        detail = (f"以官方发布口吻表述（“{phrase}”），但未指明发布机构，检索到的证据中也没有相关的官方发布" if zh
                  else f"framed as official (\"{phrase}\") without naming the body, and no related official release was found in the evidence")
        return [Signal(kind="fake_official_source", strength=settings.fake_official_unnamed_strength, detail=detail)]

    def publishers(ev: Evidence) -> set[str]:
        return {b.key for b in find_bodies(ev.publisher)}

    if any(bodies_related(body, p) for ev in relevant for body in named for p in publishers(ev)):
        return []
    any_release_of_body = any(bodies_related(body, p) for ev in releases for body in named for p in publishers(ev))
    strength = settings.fake_official_unrelated_strength if any_release_of_body else settings.fake_official_absent_strength
    names = ("、" if zh else ", ").join(body_name(b, lang) for b in named)
    if zh:
        detail = f"以官方发布口吻表述（“{phrase}”），声称来源为{names}，但检索到的证据中" + (
            "该机构的发布均与此说法无关" if any_release_of_body else "没有该机构的任何相关发布")
    else:
        detail = f"framed as official (\"{phrase}\"), attributed to {names}, but " + (
            "none of its releases in the evidence is about this claim" if any_release_of_body
            else "no release of it in the evidence matches")
    others = [ev for ev in relevant if ev.publisher]
    if others:
        who = ("、" if zh else ", ").join(dict.fromkeys(ev.publisher for ev in others))
        detail += f"；相关内容的发布方为{who}" if zh else f"; related releases come from {who}"
    return [Signal(kind="fake_official_source", strength=strength, detail=detail, passage_ids=[ev.passage_id for ev in others])]


# ---------------------------------------------------------------------------------------------- known rumor
def known_rumor_signals(claim: Claim, rumor_matches: list[tuple[dict, float]], settings: Settings) -> list[Signal]:
    """One ``known_rumor`` signal per debunked rumor at or above ``known_rumor_similarity`` whose text also holds
    ``known_rumor_min_overlap`` of the claim's content words, best first; it cites the debunk's first passage
    (``<doc id>#p0``). The word check is there because some embedders score unrelated texts high."""
    lang = claim.lang
    zh = _is_zh(lang)
    out = []
    for doc, cosine in sorted(rumor_matches, key=lambda m: -m[1]):
        if cosine < settings.known_rumor_similarity:
            continue
        said = doc.get("rumor") or doc.get("title") or doc.get("text") or ""
        if settings.known_rumor_min_overlap > 0 and lexical_overlap(claim.text, said) < settings.known_rumor_min_overlap:
            continue
        who = doc.get("publisher") or ("核查机构" if zh else "a fact-checker")
        when = str(doc.get("published_at") or "")
        rating = doc.get("rating") or None
        rumor = (doc.get("rumor") or doc.get("title") or "").strip()
        if zh:
            detail = f"与{who}{'于' + when if when else ''}辟谣的说法高度相似（相似度{cosine:.2f}，结论：{rating or '不实'}）"
            detail += f"：“{rumor}”" if rumor else ""
        else:
            detail = f"closely matches a rumor debunked by {who}{' on ' + when if when else ''} (similarity {cosine:.2f}, rating: {rating or 'false'})"
            detail += f": \"{rumor}\"" if rumor else ""
        out.append(Signal(kind="known_rumor", strength=min(1.0, max(0.0, float(cosine))), detail=detail,
                          passage_ids=[passage_id(doc["id"], 0)], rating=rating, tactics=debunk_tactics(doc)))
    return out


def debunk_tactics(doc: dict) -> list[TacticName]:
    """The tactics a debunk names among its tags (stored as a JSON list), in the project's vocabulary."""
    tags = doc.get("tags") or []
    if isinstance(tags, str):
        try:
            tags = json.loads(tags)
        except ValueError:
            return []
    names = {t.value for t in TacticName}
    return [TacticName(t) for t in dict.fromkeys(tags) if isinstance(t, str) and t in names]


# ---------------------------------------------------------------------------------------------- all together
def detect_signals(
    claim: Claim,
    evidence: list[Evidence],
    rumor_matches: list[tuple[dict, float]],
    settings: Settings,
    post_date: date | None = None,
) -> list[Signal]:
    """Every deterministic signal for one claim: known rumors first (the strongest), then recycled old news,
    then fake official framing. ``evidence`` is ranked best first; ``rumor_matches`` are (debunk document
    dict, cosine) pairs from ``Retriever.similar_rumors``; ``post_date`` resolves 昨天 and dates an undated claim."""
    return (
        known_rumor_signals(claim, rumor_matches, settings)
        + old_news_signal(claim, evidence, settings, post_date)
        + fake_official_signal(claim, evidence, settings)
    )
