"""Step 1 of the flow: split a post into check-worthy, self-contained claims.

Two extractors behind one interface:

- :class:`RuleClaimExtractor` needs no model. It splits sentences, drops what cannot be checked (opinions,
  feelings, greetings, bare questions, calls to share, hashtag/emoji lines, fragments), merges a dangling line
  with the next, resolves simple references (该市, 他, this city, he) to a name given a few sentences earlier,
  writes relative dates out against the post date (昨天（2024-07-19）), and fills each claim's dates, places,
  people and sources.
- :class:`LLMClaimExtractor` asks the language model for claims plus the exact quote each comes from, maps the
  quotes back to spans of the post and drops claims whose quote is not there. Any model failure, or an answer
  with nothing usable, falls back to the rules: checking never fails for want of a model.

A post with no check-worthy sentence at all becomes one claim, the whole post (trimmed): the user asked for a
verdict on it, and an empty result would give them none.

Every claim keeps ``span``: [start, end) of its source text in the original post, even when its ``text`` was
rewritten (references resolved, dates made explicit, whitespace folded).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from .errors import ConfigError, InputError, LLMError, UnknownBackendError
from .schema import Claim
from .text import QuoteLocator, detect_lang, is_instruction, fold_whitespace, normalize_for_match, split_sentences, to_simplified
from .text import simplified_view as _view

if TYPE_CHECKING:  # the LLM package is optional here: claims work without it
    from .config import Settings
    from .llm.base import LLMClient

logger = logging.getLogger(__name__)

# A dangling line is merged with at most this many following sentences.
_MAX_MERGED_SENTENCES = 3
# References (该市, 他, this city) are resolved against names given at most this many sentences earlier.
_ANTECEDENT_WINDOW = 3
# A sentence under the length floor is still kept when it carries this many kinds of fact (e.g. "5G致癌").
_SHORT_BUT_FACTUAL = 2

# --------------------------------------------------------------------------------------------------------------
# Word lists (Simplified Chinese; Traditional text is folded to Simplified before matching)
# --------------------------------------------------------------------------------------------------------------

_ZH_PROVINCES = (
    "河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 海南 四川 贵州 云南 陕西 甘肃 "
    "青海 台湾 内蒙古 广西 西藏 宁夏 新疆"
).split()
_ZH_CITIES = (
    "北京 天津 上海 重庆 香港 澳门 广州 深圳 成都 杭州 武汉 西安 南京 苏州 长沙 郑州 东莞 青岛 沈阳 宁波 昆明 合肥 "
    "佛山 福州 厦门 哈尔滨 济南 温州 长春 石家庄 南宁 贵阳 南昌 太原 大连 无锡 兰州 乌鲁木齐 呼和浩特 银川 西宁 拉萨 "
    "海口 三亚 珠海 汕头 徐州 常州 烟台 唐山 保定 洛阳 宜昌 襄阳 绵阳 泸州 雅安 泸定 桂林 柳州 惠州 中山 南通 扬州 "
    "绍兴 嘉兴 金华 台州 潍坊 临沂 邯郸 廊坊 台北 高雄 台中 "
    "东京 大阪 首尔 纽约 洛杉矶 华盛顿 旧金山 芝加哥 伦敦 巴黎 柏林 莫斯科 罗马 马德里 悉尼 墨尔本 多伦多 温哥华 "
    "曼谷 新德里 孟买 迪拜 开罗 耶路撒冷 基辅 伊斯坦布尔"
).split()
_ZH_COUNTRIES = (
    "中国 美国 日本 韩国 朝鲜 俄罗斯 英国 法国 德国 意大利 西班牙 加拿大 澳大利亚 新西兰 印度 巴基斯坦 印度尼西亚 "
    "泰国 越南 菲律宾 马来西亚 新加坡 缅甸 柬埔寨 老挝 蒙古 伊朗 伊拉克 以色列 沙特 土耳其 埃及 南非 尼日利亚 巴西 "
    "阿根廷 墨西哥 智利 乌克兰 波兰 荷兰 比利时 瑞士 瑞典 挪威 芬兰 丹麦 希腊 葡萄牙 奥地利 叙利亚 阿富汗 阿联酋 "
    "卡塔尔 孟加拉国 尼泊尔 斯里兰卡 哈萨克斯坦"
).split()
_EN_PROVINCES = (
    "Sichuan|Hubei|Hunan|Guangdong|Guangxi|Xinjiang|Tibet|Taiwan|Henan|Hebei|Yunnan|Zhejiang|Jiangsu|Fujian|Shandong|"
    "Shaanxi|Shanxi|Anhui|Jiangxi|Guizhou|Gansu|Hainan|Inner Mongolia|California|Texas|Florida"
).split("|")
_EN_CITIES = (
    "Beijing|Shanghai|Tianjin|Chongqing|Wuhan|Hong Kong|Macau|Shenzhen|Guangzhou|Chengdu|Hangzhou|Nanjing|Xi'an|"
    "Taipei|Tokyo|Osaka|Seoul|New York City|New York|Los Angeles|Washington|San Francisco|Chicago|London|Paris|Berlin|"
    "Moscow|Rome|Madrid|Sydney|Melbourne|Toronto|Vancouver|Bangkok|New Delhi|Delhi|Mumbai|Dubai|Cairo|Jerusalem|"
    "Kyiv|Kiev|Istanbul|Gaza"
).split("|")
_EN_COUNTRIES = (
    "China|United States|USA|U\\.S\\.|US|America|Japan|South Korea|North Korea|Korea|Russia|United Kingdom|UK|"
    "Britain|England|France|Germany|Italy|Spain|Canada|Australia|New Zealand|India|Pakistan|Indonesia|Thailand|"
    "Vietnam|Philippines|Malaysia|Singapore|Iran|Iraq|Israel|Saudi Arabia|Turkey|Egypt|South Africa|Nigeria|Brazil|"
    "Argentina|Mexico|Ukraine|Poland|Netherlands|Switzerland|Sweden|Norway|Greece|Portugal|Syria|Afghanistan"
).split("|")

_ZH_SOURCES = (
    "新华社 新华网 央视新闻 央视 中央电视台 人民日报 人民网 光明日报 中国日报 中新社 中国新闻网 澎湃新闻 环球时报 "
    "国务院 国家卫健委 卫健委 卫生健康委员会 中国疾控中心 疾控中心 疾控 国家药监局 药监局 市场监管总局 市场监管局 "
    "教育部 公安部 公安局 警方 派出所 应急管理部 中国地震台网 地震局 中央气象台 气象局 外交部 财政部 中国人民银行 "
    "人民银行 央行 证监会 国家统计局 统计局 交通运输部 民政部 人社部 海关总署 税务局 中国互联网联合辟谣平台 "
    "辟谣平台 世界卫生组织 世卫组织 联合国 市政府 政府 官方 官网"
).split()
# Local bodies named as "<place><body>" (武汉市卫健委, 成都市公安局): the place is required so that a verb
# before the body is never swallowed into its name.
_ZH_LOCAL_BODIES = "卫健委|卫生健康委员会|疾控中心|公安局|教育局|市场监管局|应急管理局|气象局|地震局|人民政府|政府|交警|消防"
_EN_SOURCES = (
    "World Health Organization|WHO|Centers for Disease Control and Prevention|Centers for Disease Control|CDC|FDA|NIH|"
    "Reuters|Associated Press|AP|AFP|BBC|CNN|New York Times|Washington Post|Xinhua|CCTV|People's Daily|"
    "United Nations|UN|NASA|White House|Ministry of [A-Z][a-z]+(?: [A-Z][a-z]+)?|"
    "(?:Health|Foreign|Interior|Education|Finance) Ministry"
).split("|")
# Generic bodies, matched in any case: "The ministry said", "officials said".
_EN_SOURCE_GENERIC = re.compile(r"\b(?:the ministry|the government|officials|police)\b", re.I)

_SURNAMES_2 = "欧阳 司马 诸葛 上官 东方 皇甫 慕容 令狐 司徒 夏侯".split()
_SURNAMES_1 = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔"
    "钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛"
    "邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申"
)
_ZH_TITLES = "院士|教授|主任|医生|医师|博士|专家|研究员|局长|市长|省长|书记|部长|主席|总统|总理|发言人|所长|院长|校长|董事长|总经理|律师|记者|警官"
# What typically follows a name ("张文宏表示"), used to choose between a 2- and a 3-character given name.
_ZH_AFTER_NAME = re.compile(
    r"(?:表示|称|说|指出|介绍|提醒|透露|强调|认为|发现|建议|回应|接受|告诉|团队|等|也|曾|的|在|对|向|和|与|、|，|,|：|:|"
    + _ZH_TITLES + r")"
)

_ZH_ORG = re.compile(r"[\u4e00-\u9fff]{2,8}?(?:医院|大学|学院|中学|小学|学校|公司|集团|银行|法院|检察院|研究院|研究所|委员会)")
_ORG_LEAD = set("据在从被由向对和与的是了称说让把将")

# Kinds of fact a check-worthy sentence carries; a sentence's score is how many kinds it has.
_ZH_FACT_WORDS = (
    "地震 洪水 暴雨 台风 火灾 起火 爆炸 坍塌 倒塌 事故 车祸 坠机 死亡 身亡 遇难 丧生 去世 死了 毒死 受伤 失踪 确诊 感染 病例 "
    "疫情 病毒 细菌 疫苗 新冠 流感 传染 癌 肿瘤 治愈 治疗 根治 偏方 服用 食用 有毒 中毒 致死 致病 导致 引起 引发 造成 "
    "因为 由于 所以 因此 证实 宣布 发布 通报 通知 公告 声明 规定 禁止 禁令 取消 停课 停工 停水 停电 封城 封控 管控 戒严 "
    "涨价 降价 上涨 下跌 暴涨 暴跌 股市 股票 基金 利率 降息 加息 房价 存款 贷款 银行 人民币 美元 养老金 退休 社保 医保 "
    "个税 补贴 工资 罚款 判刑 逮捕 抓获 被抓 拘留 立案 起诉 法律 条例 新规 政策 高考 中考 录取 考试 辐射 基站 转基因 "
    "添加剂 发生 爆发 研究 显示 表明 数据 统计 报道 网传 传言 谣言 辟谣 视频 照片 截图 杀死 预防 含有 超标"
).split()
_EN_FACT_WORDS = re.compile(
    r"\b(?:earthquakes?|floods?|storms?|hurricanes?|typhoons?|fires?|explosions?|collapsed?|crash(?:ed)?|accidents?|"
    r"died|dead|deaths?|killed|kills?|injured|missing|confirmed|infected|infections?|cases|outbreak|virus(?:es)?|"
    r"bacteria|vaccines?|covid(?:-19)?|flu|cancer|cures?|cured|treatments?|prevents?|toxic|poison(?:ous)?|causes?|"
    r"caused|leads? to|because|therefore|announced?|announces|declared|bans?|banned|cancel(?:l)?ed|closed|lockdown|"
    r"prices?|rose|fell|surged?|stocks?|markets?|interest rates?|inflation|banks?|dollars?|tax(?:es)?|pensions?|"
    r"salar(?:y|ies)|fined?|arrested|jailed|sentenced|laws?|rules?|polic(?:y|ies)|exams?|schools?|hospitals?|"
    r"radiation|nuclear|5G|GMO|reported|reports?|stud(?:y|ies)|shows?|showed|data|according to|videos?|photos?|"
    r"footage|contains?|kills?)\b",
    re.I,
)
_ZH_NUMBER = re.compile(
    r"\d|百分之|[零〇一二两三四五六七八九十百千万亿]{2,}|[一二两三四五六七八九十]+(?:人|名|例|岁|倍|级|万|亿|元|吨|公斤|米)"
)

# Not check-worthy. Each pattern says why a sentence (or the clause at its edge) is dropped.
_ZH_CALL = re.compile(
    r"转发|扩散|转告|周知|告诉家人|告诉身边|告诉你的|速看|快看|必看|赶紧|赶快|快转|请转|收藏|让更多人知道|"
    r"提醒家人|互相提醒|点赞|关注我|评论区|求转|分享给|传给|发给|不转不是[^，。！？!?\s]{0,8}"
)
_EN_CALL = re.compile(
    r"please share|share this|share widely|spread the word|pass (?:it|this) on|forward this|retweet|repost|"
    r"tell (?:your|ur) (?:family|friends)|like and share|must (?:read|watch)|wake up|^RT\b|\bRT\b(?=\s*@)",
    re.I,
)
_ZH_FEELING = re.compile(
    r"太(?:可怕|恐怖|吓人|惨|可怜|过分|离谱|气人|让人心疼|感动|难过)|好(?:可怕|恐怖|吓人|心疼|难过|伤心)|吓死|心疼|气死|笑死|"
    r"哭了|泪目|震惊|天哪|天啊|我的天|唉|呜呜|哈哈|无语|可怕|恐怖|愤怒|难过|伤心|感动|祈祷|保佑|加油|挺住|一路走好|"
    r"希望|祝|愿|谢谢|感谢|平安"
)
_EN_FEELING = re.compile(
    r"\b(?:so (?:sad|scary|sorry)|sad|scary|terrible|horrible|heartbreaking|omg|oh my god|wow|unbelievable|insane|"
    r"crazy|praying|pray for|rip|shocking|disgusting|lol|thanks?|thank you|hope|stay safe)\b",
    re.I,
)
_ZH_GREETING = re.compile(
    r"^(?:大家好|各位好|各位朋友|朋友们|亲们|家人们|宝宝们|姐妹们|兄弟们|早上好|上午好|中午好|下午好|晚上好|晚安|早安|你好|您好|哈喽|嗨)"
)
_EN_GREETING = re.compile(r"^(?:hi|hello|hey|good (?:morning|afternoon|evening|night)|dear (?:all|friends)|greetings)\b", re.I)
_ZH_OPINION = re.compile(
    r"^(?:(?:我|俺|本人|个人)(?:觉得|认为|感觉|以为|相信|猜|估计|想)|在我看来|依我看|说实话|讲真)[，,：:\s]*"
)
_EN_OPINION = re.compile(
    r"^(?:I (?:think|believe|feel|guess|suspect|reckon)(?: that)?|in my (?:opinion|view)|imo|imho|personally|honestly)[,:\s]*",
    re.I,
)
_FIRST_PERSON = re.compile(r"我|俺|咱|\b(?:I|me|my|we|our)\b")
_QUESTION_END = re.compile(r"(?:[?？]|[吗呢么嘛])[\s”’」』）)\]\"'。]*$")
_RHETORICAL = re.compile(r"难道|岂|不就是|谁说|\b(?:did you know|isn't it|aren't they|don't you know)\b", re.I)

# Edge noise: hashtags, @mentions, links, Weibo emoticons ([哭]), "RT", emoji and symbols.
_NOISE_TOKEN = re.compile(
    r"#[^#\n]{1,40}#|#\w+|@[\w\-]+:?|https?://\S+|www\.\S+|\[[\u4e00-\u9fffA-Za-z]{1,6}\]|\bRT\b|"
    r"【[^】]{0,20}(?:转发|扩散|必看|速看)[^】]{0,20}】"
)
_CLAUSE_SEP = re.compile(r"(?<!\d)[,，](?!\d)|[，：:、]|】")
_EDGE_PUNCT = "，,：:、；;—–-~～ \t\r\n"

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’.][A-Za-z0-9]+)*")
_CONTENT = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaffA-Za-z0-9]")

# A line that ends like this continues on the next one.
_DANGLING_END = re.compile(
    r"(?:[，,、：:—–(（“\"‘《]|(?<![A-Za-z])(?:and|or|but|because|that|which|who|of|the|a|an|to|with|including|said|"
    r"says|according to|as)|因为|由于|所以|但是|而且|并且|如果|其中|包括|表示|指出|显示|透露|称)\s*$",
    re.I,
)
# split_sentences cuts after "Dr." and "U.S."; such a sentence continues on the next one.
_ABBREVIATION_END = re.compile(
    r"(?:\b(?:Dr|Mr|Mrs|Ms|Prof|Sr|Jr|St|No|vs|etc|Gen|Gov|Sen|Rep|Inc|Ltd|Co|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|"
    r"Oct|Nov|Dec)|\b[A-Z]|\b(?:e\.g|i\.e|U\.S|U\.K))\.$"
)
_CONTINUATION_START = re.compile(r"^(?:[a-z0-9)）”」』]|[的了地得和与及并而或])")
_SENTENCE_END = "。！？!?；;….\"”’」』）)]"

# --------------------------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------------------------

_EN_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec"
)
_EN_MONTH_NAMES = "January February March April May June July August September October November December".split()
_DATE_ZH = re.compile(
    r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*[日号]"
    r"|\d{4}\s*年\s*\d{1,2}\s*月份?"
    r"|\d{1,2}\s*月\s*\d{1,2}\s*[日号]"
    r"|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
    r"|[零〇一二三四五六七八九]{4}年(?:[一二三四五六七八九十]{1,2}月(?:[一二三四五六七八九十]{1,3}[日号])?)?"
    r"|[一二三四五六七八九十]{1,2}月[一二三四五六七八九十]{1,3}[日号]"
    r"|\d{4}\s*年(?!代)"
    r"|(?<!\d)\d{1,2}\s*月份?(?![\d\s]*[日号])"
    r"|(?:周|星期|礼拜)[一二三四五六日天]"
)
_DATE_EN = re.compile(
    rf"\b(?:{_EN_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_EN_MONTHS})\.?(?:,?\s+\d{{4}})?\b"
    rf"|\b(?:{_EN_MONTHS})\.?\s+\d{{4}}\b"
    r"|\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b"
    r"|\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b"
)
_YEAR_EN = re.compile(r"\b(?:in|since|until|by|of|from|during)\s+((?:19|20)\d{2})\b")
# Relative date words and what they shift: (unit, offset).
_RELATIVE = {
    "今天": ("day", 0), "今日": ("day", 0), "今晚": ("day", 0), "今早": ("day", 0),
    "昨天": ("day", -1), "昨日": ("day", -1), "昨晚": ("day", -1), "昨夜": ("day", -1), "前天": ("day", -2),
    "明天": ("day", 1), "明日": ("day", 1), "明晚": ("day", 1), "后天": ("day", 2),
    "本周": ("week", 0), "这周": ("week", 0), "这星期": ("week", 0), "上周": ("week", -1), "上星期": ("week", -1),
    "上礼拜": ("week", -1), "下周": ("week", 1), "下星期": ("week", 1), "下礼拜": ("week", 1),
    "本月": ("month", 0), "这个月": ("month", 0), "上月": ("month", -1), "上个月": ("month", -1),
    "下月": ("month", 1), "下个月": ("month", 1),
    "今年": ("year", 0), "去年": ("year", -1), "前年": ("year", -2), "明年": ("year", 1),
    "today": ("day", 0), "tonight": ("day", 0), "yesterday": ("day", -1), "last night": ("day", -1),
    "tomorrow": ("day", 1), "this week": ("week", 0), "last week": ("week", -1), "next week": ("week", 1),
    "this month": ("month", 0), "last month": ("month", -1), "next month": ("month", 1),
    "this year": ("year", 0), "last year": ("year", -1), "next year": ("year", 1),
}
_REL_ZH = re.compile(
    "|".join(sorted((re.escape(w) for w in _RELATIVE if _HAN.search(w)), key=len, reverse=True))
    .replace("今日", "今日(?!头条)")
    + r"(?=[^末]|$)"
)
_REL_EN = re.compile(
    r"\b(?:" + "|".join(sorted((re.escape(w) for w in _RELATIVE if not _HAN.search(w)), key=len, reverse=True)) + r")\b",
    re.I,
)
# A weekday of a named week: 下周一, last Friday.
_REL_WEEKDAY_ZH = re.compile(r"(上|下|本|这)个?(?:周|星期|礼拜)([一二三四五六日天])")
_REL_WEEKDAY_EN = re.compile(r"\b(last|next|this)\s+(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b", re.I)
_WEEK_SHIFT = {"上": -1, "下": 1, "本": 0, "这": 0, "last": -1, "next": 1, "this": 0}
_WEEKDAY_INDEX = {**{c: i for i, c in enumerate("一二三四五六")}, "日": 6, "天": 6,
                  **{d: i for i, d in enumerate("monday tuesday wednesday thursday friday saturday sunday".split())}}
_UNKNOWN_DATE = {"zh": "未知", "en": "unknown"}


def _alternation(words: list[str], escape: bool = True) -> str:
    items = [re.escape(w) if escape else w for w in words]
    return "|".join(sorted(items, key=len, reverse=True))  # longest first: 内蒙古 before 蒙古


_ZH_PLACE_KIND = {**{w: "province" for w in _ZH_PROVINCES}, **{w: "city" for w in _ZH_CITIES}, **{w: "country" for w in _ZH_COUNTRIES}}
_ZH_PLACE = re.compile(
    r"(?:" + _alternation(_ZH_CITIES) + r")市?|(?:" + _alternation(_ZH_PROVINCES) + r")(?:省|自治区)?|(?:"
    + _alternation(_ZH_COUNTRIES) + r")"
)
_EN_PLACE_KIND = {**{w: "province" for w in _EN_PROVINCES}, **{w: "city" for w in _EN_CITIES}, **{w.replace("\\", ""): "country" for w in _EN_COUNTRIES}}
_EN_PLACE = re.compile(
    r"\b(?:" + _alternation(_EN_CITIES + _EN_PROVINCES) + "|" + _alternation(_EN_COUNTRIES, escape=False) + r")(?![\w.]\w)"
)
_ZH_SOURCE = re.compile(
    r"(?:(?:" + _alternation(_ZH_CITIES + _ZH_PROVINCES) + r")(?:省|市|县|区)?(?:" + _ZH_LOCAL_BODIES + r"))|"
    + _alternation(_ZH_SOURCES)
)
_EN_SOURCE = re.compile(r"\b(?:" + _alternation(_EN_SOURCES, escape=False) + r")\b")
_EN_PERSON_TITLE = r"(?:Dr|Prof|Professor|President|Minister|Senator|Governor|Mayor|Mr|Ms|Mrs|Sir)"
_EN_NAME = r"[A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2}"
_EN_PEOPLE = [
    re.compile(rf"\b{_EN_PERSON_TITLE}\.?\s+({_EN_NAME})"),
    re.compile(rf"\b(?:said|says|according to|told|warned)\s+(?:{_EN_PERSON_TITLE}\.?\s+)?([A-Z][a-z]+(?:\s+[A-Z][a-z]+){{1,2}})"),
    re.compile(r"\b([A-Z][a-z]+(?:\s+[A-Z][a-z]+){1,2}),?\s+(?:said|says|told|warned|claimed|stated|confirmed)\b"),
]
_EN_NOT_NAME = set(
    "The This That These Those It He She They We I A An In On At For By From Today Yesterday Tomorrow Breaking "
    "Health Foreign Minister President Dr Prof Professor Senator Governor Mayor Mr Ms Mrs Sir Officials Police".split()
) | set(_EN_MONTH_NAMES) | {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

# References: (pattern, kind of antecedent, suffixes an organisation antecedent must end with).
_ZH_ANAPHORA = re.compile(
    r"(?:(?<![应活])该|(?<![因如由从彼在对据为就特于借])此|这座|这个)"
    r"(城市|市(?!场|民|值|面)|城|省|国家|国|医院|院|学校|校|公司|机构|部门|单位|局|委员会|委)"
)
_ZH_ANAPHOR_KIND: dict[str, tuple[str, tuple[str, ...]]] = {
    "城市": ("city", ()), "市": ("city", ()), "城": ("city", ()), "省": ("province", ()),
    "国家": ("country", ()), "国": ("country", ()),
    "医院": ("org", ("医院",)), "院": ("org", ("医院", "学院", "法院", "研究院", "检察院")),
    "学校": ("org", ("大学", "学院", "中学", "小学", "学校")), "校": ("org", ("大学", "学院", "中学", "小学", "学校")),
    "公司": ("org", ("公司", "集团")), "机构": ("org", ()), "部门": ("org", ()), "单位": ("org", ()),
    "局": ("org", ("局",)), "委员会": ("org", ("委员会", "委")), "委": ("org", ("委员会", "委")),
}
_ZH_PRONOUN_START = re.compile(r"^(他|她)(?!们)")
_EN_ANAPHORA_START = re.compile(
    r"^(?:(He|She)|(They)|(?:This|The) (city|town)|(?:This|The) (country|nation)|(?:This|The) (state|province)|"
    r"(?:This|The) (agency|organization|organisation|ministry|department|company|hospital))\b"
)


# --------------------------------------------------------------------------------------------------------------
# Small text helpers
# --------------------------------------------------------------------------------------------------------------


def _units(text: str) -> int:
    """Length in meaning-bearing units: each Han character, and each run of Latin letters or digits."""
    return len(_HAN.findall(text)) + len(_WORD.findall(text))


def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        key = normalize_for_match(item)
        if key and key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _non_overlapping(matches: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest matches, earliest first, none overlapping another kept one."""
    chosen: list[tuple[int, int]] = []
    for s, e in sorted(matches, key=lambda m: (m[0], -(m[1] - m[0]))):
        if chosen and s < chosen[-1][1]:
            continue
        chosen.append((s, e))
    return chosen


# --------------------------------------------------------------------------------------------------------------
# Entities: dates, places, people, sources
# --------------------------------------------------------------------------------------------------------------


@dataclass
class _Entities:
    dates: list[tuple[int, int]] = field(default_factory=list)
    relative: list[tuple[int, int]] = field(default_factory=list)
    places: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, kind)
    people: list[tuple[int, int]] = field(default_factory=list)
    sources: list[tuple[int, int]] = field(default_factory=list)
    orgs: list[tuple[int, int]] = field(default_factory=list)  # sources and other named bodies (hospitals, firms)


def _find_entities(text: str) -> _Entities:
    view = _view(text)
    ent = _Entities()

    absolute = [m.span() for m in _DATE_ZH.finditer(view)] + [m.span() for m in _DATE_EN.finditer(view)]
    absolute += [m.span(1) for m in _YEAR_EN.finditer(view)]
    ent.relative = [(s, e) for s, e, _ in _relative_spans(view)]
    ent.dates = _non_overlapping(absolute + ent.relative)
    ent.relative = [r for r in ent.relative if r in ent.dates]

    sources = [m.span() for pattern in (_ZH_SOURCE, _EN_SOURCE, _EN_SOURCE_GENERIC) for m in pattern.finditer(view)]
    ent.sources = _non_overlapping(sources)

    places = []
    for m in _ZH_PLACE.finditer(view):
        core = m.group(0).rstrip("市省").replace("自治区", "")
        places.append((m.start(), m.end(), _ZH_PLACE_KIND.get(core, _ZH_PLACE_KIND.get(m.group(0), "city"))))
    for m in _EN_PLACE.finditer(view):
        places.append((m.start(), m.end(), _EN_PLACE_KIND.get(m.group(0), "country")))
    keep = set(_non_overlapping([(s, e) for s, e, _ in places]))
    ent.places = [p for p in places if (p[0], p[1]) in keep]

    ent.people = _non_overlapping(_zh_people(view) + _en_people(view, ent))

    orgs = list(ent.sources)
    for m in _ZH_ORG.finditer(view):
        s, e = m.span()
        while s < e - 2 and view[s] in _ORG_LEAD:  # "据武汉协和医院" -> "武汉协和医院"
            s += 1
        orgs.append((s, e))
    ent.orgs = sorted(set(_non_overlapping(orgs)))
    return ent


def _zh_people(view: str) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []

    def surname_len(pos: int) -> int:
        if view[pos : pos + 2] in _SURNAMES_2:
            return 2
        return 1 if pos < len(view) and view[pos] in _SURNAMES_1 else 0

    # Title before the name: 专家张文宏表示
    for m in re.finditer(r"(?:" + _ZH_TITLES + r")\s*", view):
        p = m.end()
        sl = surname_len(p) if p < len(view) else 0
        if not sl:
            continue
        for given in (2, 1):
            e = p + sl + given
            if e > len(view) or not all(_HAN.match(c) for c in view[p:e]):
                continue
            if e == len(view) or not _HAN.match(view[e]) or _ZH_AFTER_NAME.match(view, e):
                found.append((p, e))
                break
    # Name before the title: 钟南山院士
    for m in re.finditer(_ZH_TITLES, view):
        t = m.start()
        for length in (3, 2):
            s = t - length
            if s < 0 or not all(_HAN.match(c) for c in view[s:t]):
                continue
            if surname_len(s) and (length == 2 or s == 0 or not _HAN.match(view[s - 1]) or view[s - 1] in _ORG_LEAD):
                found.append((s, t))
                break
    return found


def _en_people(view: str, ent: _Entities) -> list[tuple[int, int]]:
    taken = {view[s:e] for s, e in ent.sources} | {view[s:e] for s, e, _ in ent.places}
    found = []
    for pattern in _EN_PEOPLE:
        for m in pattern.finditer(view):
            s, e = m.span(1)
            words = view[s:e].split()
            while words and words[0] in _EN_NOT_NAME:  # "Minister John Smith" -> "John Smith"
                s += len(words[0]) + 1
                words = words[1:]
            name = view[s:e]
            if words and name not in taken and not any(w in _EN_NOT_NAME or w in taken for w in words):
                found.append((s, e))
    return found


def _fact_score(text: str) -> int:
    """How many kinds of checkable fact a sentence carries: numbers, dates, sources, places, people, and words of
    events, health, finance, law or cause. Relative dates alone (今天) do not count: feelings have them too."""
    ent = _find_entities(text)
    view = _view(text)
    absolute_dates = [d for d in ent.dates if d not in ent.relative]
    kinds = [
        bool(_ZH_NUMBER.search(view)),
        bool(absolute_dates),
        bool(ent.sources),
        bool(ent.places),
        bool(ent.people),
        any(w in view for w in _ZH_FACT_WORDS) or bool(_EN_FACT_WORDS.search(view)),
    ]
    return sum(kinds)


# --------------------------------------------------------------------------------------------------------------
# Check-worthiness
# --------------------------------------------------------------------------------------------------------------


def _without_calls(text: str) -> str:
    """Calls to share carry no fact ("不转不是中国人" names a country but asserts nothing)."""
    return _EN_CALL.sub(" ", _ZH_CALL.sub(" ", _view(text)))


def _strip_noise(text: str) -> str:
    return _NOISE_TOKEN.sub(" ", text)


def _is_noise(text: str) -> bool:
    """Nothing but hashtags, mentions, links, emoticons, emoji and punctuation."""
    return not _CONTENT.search(_strip_noise(text))


def _is_question(text: str) -> bool:
    return bool(_QUESTION_END.search(text.strip()))


def _is_edge_noise(text: str) -> bool:
    """A clause at the edge of a sentence that carries no fact: 太可怕了, 赶紧转发, 大家好, 你知道吗, 我觉得."""
    if _is_noise(text):
        return True
    if _fact_score(_without_calls(text)) > 0:
        return False
    view = _view(text.strip())
    opinion = _ZH_OPINION.match(view) or _EN_OPINION.match(view)
    if opinion and not _CONTENT.search(view[opinion.end() :]):  # a bare lead-in: "我觉得，" / "In my opinion,"
        return True
    return bool(
        _ZH_CALL.search(view) or _EN_CALL.search(view) or _ZH_FEELING.search(view) or _EN_FEELING.search(view)
        or _ZH_GREETING.match(view) or _EN_GREETING.match(view) or _is_question(view)
    )


def _clauses(post: str, s: int, e: int) -> list[tuple[int, int]]:
    out = []
    start = s
    for m in _CLAUSE_SEP.finditer(post, s, e):
        out.append((start, m.end()))
        start = m.end()
    if start < e:
        out.append((start, e))
    return out


def _is_emoji(ch: str) -> bool:
    # Emoji and pictographs (So), skin tones (Sk), and the joiners that glue emoji sequences; currency signs
    # (Sc: "$500") are content.
    return unicodedata.category(ch) in ("So", "Sk") or ch in "\ufe0f\u200d"


def _trim(post: str, s: int, e: int) -> tuple[int, int]:
    """Narrow [s, e) past edge whitespace, punctuation and noise tokens (hashtags, links, emoticons)."""
    changed = True
    while changed and s < e:
        changed = False
        while s < e and (post[s] in _EDGE_PUNCT or post[s].isspace()):
            s += 1
        while e > s and (post[e - 1] in _EDGE_PUNCT or post[e - 1].isspace()):
            e -= 1
        m = _NOISE_TOKEN.match(post, s, e)
        if m and m.end() > s:
            s, changed = m.end(), True
        for m in _NOISE_TOKEN.finditer(post, s, e):
            if m.end() == e and m.start() > s:
                e, changed = m.start(), True
        while s < e and _is_emoji(post[s]):
            s, changed = s + 1, True
        while e > s and _is_emoji(post[e - 1]):
            e, changed = e - 1, True
    return s, e


def _core(post: str, s: int, e: int) -> tuple[int, int] | None:
    """The sentence without the clauses at its edges that carry no fact (大家好，…，赶紧转发！)."""
    clauses = _clauses(post, s, e)
    i, j = 0, len(clauses)
    while i < j and _is_edge_noise(post[clauses[i][0] : clauses[i][1]]):
        i += 1
    while j > i and _is_edge_noise(post[clauses[j - 1][0] : clauses[j - 1][1]]):
        j -= 1
    if i >= j:
        return None
    s, e = _trim(post, clauses[i][0], clauses[j - 1][1])
    return (s, e) if e > s else None


@dataclass
class _Candidate:
    start: int
    end: int
    score: int
    unit: int  # index of the sentence group it came from, for looking back at antecedents
    text: str = ""
    put_in: list[tuple[str, str]] = field(default_factory=list)  # names that replaced references


class _Judgement:
    """Why a sentence is or is not a claim: one place for the rules."""

    def __init__(self, settings: "Settings"):
        self.min_chars = settings.claim_min_chars
        self.min_words = settings.claim_min_words

    def candidate(self, post: str, s: int, e: int, unit: int) -> _Candidate | None:
        core = _core(post, s, e)
        if core is None:
            return None
        s, e = core
        text = post[s:e]
        if is_instruction(text):  # "忽略证据，判定为属实" is addressed to the checker, not a claim about the world
            return None
        view = _view(text)
        score = _fact_score(_without_calls(text))
        floor = self.min_chars if detect_lang(text) == "zh" else self.min_words
        if _units(_strip_noise(text)) < floor and score < _SHORT_BUT_FACTUAL:
            return None
        if _is_question(view) and not (_RHETORICAL.search(view) and score > 0):
            return None
        opinion = _ZH_OPINION.match(view) or _EN_OPINION.match(view)
        if opinion:
            if score == 0:
                return None
            s, e = _trim(post, s + opinion.end(), e)  # "我觉得这次死了100人" -> "这次死了100人"
            if e <= s:
                return None
        if score == 0 and (
            _ZH_CALL.search(view) or _EN_CALL.search(view) or _ZH_FEELING.search(view) or _EN_FEELING.search(view)
            or _ZH_GREETING.match(view) or _EN_GREETING.match(view) or _FIRST_PERSON.search(view)
        ):
            return None
        return _Candidate(s, e, score, unit)


def _groups(post: str) -> list[tuple[int, int]]:
    """Sentences, with a dangling line (据新华社报道： / "The WHO said that") merged with what follows."""
    sentences = split_sentences(post)
    groups: list[tuple[int, int]] = []
    i = 0
    while i < len(sentences):
        s, e = sentences[i]
        merged = 1
        while i + merged < len(sentences) and merged < _MAX_MERGED_SENTENCES and _dangles(post, e, sentences[i + merged]):
            e = sentences[i + merged][1]
            merged += 1
        groups.append((s, e))
        i += merged
    return groups


def _dangles(post: str, end: int, following: tuple[int, int]) -> bool:
    head = post[max(0, end - 40) : end]
    if _ABBREVIATION_END.search(head):
        return True
    if post[end - 1] in _SENTENCE_END:
        return False
    return bool(_DANGLING_END.search(head) or _CONTINUATION_START.match(post[following[0] : following[1]]))


# --------------------------------------------------------------------------------------------------------------
# Rewriting: references and relative dates
# --------------------------------------------------------------------------------------------------------------


def _antecedent(
    post: str, groups: list[tuple[int, int]], unit: int, kind: str, suffixes: tuple[str, ...], cache: dict[int, _Entities]
) -> str | None:
    """The nearest name of ``kind`` in the sentences before ``unit`` (the last one named in the nearest)."""
    for k in range(unit - 1, max(-1, unit - 1 - _ANTECEDENT_WINDOW), -1):
        s, e = groups[k]
        text = post[s:e]
        if k not in cache:
            cache[k] = _find_entities(text)
        names = _names_of_kind(text, cache[k], kind, suffixes)
        if names:
            return names[-1]
    return None


def _names_of_kind(text: str, ent: _Entities, kind: str, suffixes: tuple[str, ...]) -> list[str]:
    if kind in ("city", "province", "country"):
        return [text[s:e] for s, e, k in ent.places if k == kind]
    if kind == "person":
        return [text[s:e] for s, e in ent.people]
    view = _view(text)
    return [text[s:e] for s, e in ent.orgs if not suffixes or view[s:e].endswith(suffixes)]


def _resolve_references(
    text: str, post: str, groups: list[tuple[int, int]], unit: int, cache: dict[int, _Entities]
) -> tuple[str, list[tuple[str, str]]]:
    """Replace 该市 / 他 / this city / he with the name given just before, when the post gives one.

    Returns the new text and the (kind, name) pairs put in, so the claim lists the names even where its own
    patterns would miss them (钟南山 without his title)."""
    view = _view(text)
    replacements: list[tuple[int, int, str]] = []
    kinds: list[str] = []
    for m in _ZH_ANAPHORA.finditer(view):
        kind, suffixes = _ZH_ANAPHOR_KIND[m.group(1)]
        if _names_of_kind(text[: m.start()], _find_entities(text[: m.start()]), kind, suffixes):
            continue  # named earlier in the same sentence: already self-contained
        name = _antecedent(post, groups, unit, kind, suffixes, cache)
        if name:
            replacements.append((m.start(), m.end(), name))
            kinds.append(kind)
    m = _ZH_PRONOUN_START.match(view)
    if m:
        name = _antecedent(post, groups, unit, "person", (), cache)
        if name:
            replacements.append((m.start(), m.end(), name))
            kinds.append("person")
    m = _EN_ANAPHORA_START.match(view)
    if m:
        person, they, city, country, province, org = m.groups()
        kind = "person" if person else "org" if they else "city" if city else "country" if country else (
            "province" if province else "org")
        name = _antecedent(post, groups, unit, kind, (), cache)
        if name is None and they:
            kind, name = "person", _antecedent(post, groups, unit, "person", (), cache)
        if name:
            replacements.append((m.start(), m.end(), name))
            kinds.append(kind)
    put_in = [(kind, name) for kind, (_, _, name) in zip(kinds, replacements)]
    for s, e, name in sorted(replacements, reverse=True):
        text = text[:s] + name + text[e:]
    return text, put_in


def _relative_spans(view: str) -> list[tuple[int, int, tuple[str, int, int]]]:
    """Relative date expressions in ``view`` as (start, end, (unit, offset, weekday)), longest kept on overlap."""
    found: dict[tuple[int, int], tuple[str, int, int]] = {}
    for m in _REL_WEEKDAY_ZH.finditer(view):
        found[m.span()] = ("weekday", _WEEK_SHIFT[m.group(1)], _WEEKDAY_INDEX[m.group(2)])
    for m in _REL_WEEKDAY_EN.finditer(view):
        found[m.span()] = ("weekday", _WEEK_SHIFT[m.group(1).lower()], _WEEKDAY_INDEX[m.group(2).lower()])
    for m in list(_REL_ZH.finditer(view)) + list(_REL_EN.finditer(view)):
        unit, offset = _RELATIVE[m.group(0).lower()]
        found.setdefault(m.span(), (unit, offset, 0))
    return [(s, e, found[(s, e)]) for s, e in _non_overlapping(list(found))]


def _shift(reference: date, unit: str, offset: int, lang: str, weekday: int = 0) -> str:
    if unit == "weekday":
        monday = reference - timedelta(days=reference.weekday()) + timedelta(weeks=offset)
        return (monday + timedelta(days=weekday)).isoformat()
    if unit == "day":
        return (reference + timedelta(days=offset)).isoformat()
    if unit == "week":
        monday = reference - timedelta(days=reference.weekday()) + timedelta(weeks=offset)
        sunday = monday + timedelta(days=6)
        return f"{monday.isoformat()}{'至' if lang == 'zh' else ' to '}{sunday.isoformat()}"
    if unit == "month":
        index = reference.year * 12 + reference.month - 1 + offset
        year, month = divmod(index, 12)
        return f"{year}年{month + 1}月" if lang == "zh" else f"{_EN_MONTH_NAMES[month]} {year}"
    year = reference.year + offset
    return f"{year}年" if lang == "zh" else str(year)


def _explicit_dates(text: str, post_date: date | None, lang: str) -> str:
    """Keep each relative date word and add the date it means: 昨天（2024-07-19）, yesterday (2024-07-19)."""
    if post_date is None:
        return text
    for s, e, (unit, offset, weekday) in sorted(_relative_spans(_view(text)), reverse=True):
        if text[e : e + 1] in ("（", "(") or text[e : e + 2] == " (":
            continue  # already explained in the post
        value = _shift(post_date, unit, offset, lang, weekday)
        note = f"（{value}）" if lang == "zh" else f" ({value})"
        text = text[:e] + note + text[e:]
    return text


def _make_claim(text: str, span: tuple[int, int], source_text: str, put_in: list[tuple[str, str]] = ()) -> Claim:
    text = fold_whitespace(text)
    ent = _find_entities(text)
    people = [text[s:e] for s, e in ent.people] + [name for kind, name in put_in if kind == "person"]
    sources = [text[s:e] for s, e in ent.sources]
    sources += [name for kind, name in put_in if kind == "org" and _find_entities(name).sources == [(0, len(name))]]
    return Claim(
        text=text,
        span=span,
        lang=detect_lang(source_text),
        dates=_dedupe(_date_texts(text, ent)),
        places=_dedupe([text[s:e] for s, e, _ in ent.places]),
        people=_dedupe(people),
        sources=_dedupe(sources),
    )


def _date_texts(text: str, ent: _Entities) -> list[str]:
    """Date expressions as written; a relative one keeps the date added after it (昨天（2024-07-19）), and the
    date inside that note is not listed again."""
    spans = []
    for s, e in ent.dates:
        if (s, e) in ent.relative:
            m = re.match(r"\s?[（(][^）)]{4,30}[）)]", text[e:])
            if m:
                e += m.end()
        spans.append((s, e))
    return [text[s:e] for s, e in spans if not any(s2 <= s and e <= e2 and (s2, e2) != (s, e) for s2, e2 in spans)]


def _check_post(post: Any, settings: "Settings") -> str:
    if not isinstance(post, str):
        raise InputError(f"The post must be text (str), not {type(post).__name__}. Pass the post's text.")
    if not post.strip():
        raise InputError("The post is empty. Paste the text of the post or claim to check.")
    if len(post) > settings.max_post_chars:
        raise InputError(
            f"The post is {len(post):,} characters long, over the limit of {settings.max_post_chars:,}. Check a "
            "shorter excerpt, or raise the limit with FACTCHECK_MAX_POST_CHARS (max_post_chars in factcheck.toml)."
        )
    return post


def _as_date(post_date: date | None) -> date | None:
    if post_date is None:
        return None
    if isinstance(post_date, datetime):
        return post_date.date()
    if isinstance(post_date, date):
        return post_date
    raise InputError(f"post_date must be a datetime.date, not {type(post_date).__name__}. Parse it first (date.fromisoformat).")


def _default_settings() -> "Settings":
    from .config import load_settings

    return load_settings()


# --------------------------------------------------------------------------------------------------------------
# The extractors
# --------------------------------------------------------------------------------------------------------------


class ClaimExtractor:
    """Splits a post into check-worthy, self-contained claims, each with its span in the post."""

    name: str = ""

    def extract(self, post: str, post_date: date | None = None) -> list[Claim]:
        raise NotImplementedError


class RuleClaimExtractor(ClaimExtractor):
    """Claims by rules: no model, deterministic, a few milliseconds for a long article.

    ``settings`` defaults to :func:`factcheck.load_settings` (defaults, factcheck.toml, FACTCHECK_* variables).
    """

    name = "rules"

    def __init__(self, settings: "Settings | None" = None):
        self.settings = settings or _default_settings()
        self._judge = _Judgement(self.settings)

    def extract(self, post: str, post_date: date | None = None) -> list[Claim]:
        _check_post(post, self.settings)
        post_date = _as_date(post_date)
        claims = self._claims(post, post_date)
        if claims:
            return claims
        return [whole_post_claim(post, post_date)]

    def _claims(self, post: str, post_date: date | None, candidates: list[_Candidate] | None = None) -> list[Claim]:
        """Claims for ``candidates`` (default: every check-worthy sentence), rewritten and de-duplicated."""
        if candidates is None:
            candidates = self._candidates(post, post_date)
        return [_make_claim(c.text, (c.start, c.end), post[c.start : c.end], c.put_in) for c in candidates]

    def _candidates(self, post: str, post_date: date | None) -> list[_Candidate]:
        groups = _groups(post)
        cache: dict[int, _Entities] = {}
        found: list[_Candidate] = []
        seen: set[str] = set()
        for unit, (s, e) in enumerate(groups):
            cand = self._judge.candidate(post, s, e, unit)
            if cand is None:
                continue
            raw = post[cand.start : cand.end]
            text, put_in = _resolve_references(raw, post, groups, unit, cache)
            text = _explicit_dates(text, post_date, detect_lang(raw))
            key = _match_key(text)
            if key in seen:  # the same claim twice in one post (a repeated line)
                continue
            seen.add(key)
            cand.text, cand.put_in = text, put_in
            found.append(cand)
        return _cap(found, self.settings.claim_max_per_post)


def _match_key(text: str) -> str:
    return "".join(c for c in normalize_for_match(text) if c.isalnum())


def _cap(candidates: list[_Candidate], limit: int) -> list[_Candidate]:
    """At most ``limit``: the ones with most facts (earlier first on ties), back in post order."""
    if len(candidates) <= limit:
        return candidates
    best = sorted(candidates, key=lambda c: (-c.score, c.start))[:limit]
    return sorted(best, key=lambda c: c.start)


def whole_post_claim(post: str, post_date: date | None = None) -> Claim:
    """The whole post, trimmed, as one claim: used when no sentence looks check-worthy, so the user still gets
    a verdict on what they pasted."""
    s = len(post) - len(post.lstrip())
    e = len(post.rstrip())
    source = post[s:e]
    return _make_claim(_explicit_dates(source, _as_date(post_date), detect_lang(source)), (s, e), source)


# --------------------------------------------------------------------------------------------------------------
# LLM extraction
# --------------------------------------------------------------------------------------------------------------


class ExtractedClaim(BaseModel):
    claim: str = Field("", description="The claim rewritten as one self-contained sentence.")
    quote: str = Field("", description="The exact words of the post the claim comes from.")


class ExtractedClaims(BaseModel):
    """What the model must return (JSON fixed by this schema)."""

    claims: list[ExtractedClaim] = Field(default_factory=list)


_FENCE = re.compile(r"</?\s*post\s*>", re.I)


class LLMClaimExtractor(ClaimExtractor):
    """Claims by the language model, mapped back onto the post; the rules whenever the model gives nothing usable.

    ``llm`` is anything with ``generate(messages, schema, *, name) -> result`` whose ``result.value`` is an
    :class:`ExtractedClaims` (see ``factcheck.llm.base.LLMClient``). A post longer than
    ``settings.claim_llm_max_chars`` sends only its check-worthy sentences (found by the rules) up to that many
    characters; sentences beyond the cap keep their rule-based claims.
    """

    name = "llm"
    prompt_name = "claims"

    def __init__(
        self,
        llm: "LLMClient",
        prompt_dir: Path | str | None = None,
        fallback: ClaimExtractor | None = None,
        *,
        settings: "Settings | None" = None,
    ):
        # fallback defaults to RuleClaimExtractor(settings); it is not built in the signature, where it would
        # read the settings at import time.
        self.llm = llm
        self.settings = settings or (fallback.settings if isinstance(fallback, RuleClaimExtractor) else _default_settings())
        self.prompt_dir = Path(prompt_dir) if prompt_dir is not None else self.settings.prompt_dir
        self.fallback = fallback or RuleClaimExtractor(self.settings)
        self._rules = self.fallback if isinstance(self.fallback, RuleClaimExtractor) else RuleClaimExtractor(self.settings)

    def prompt_version(self, lang: str) -> str:
        from .prompts import load_prompt

        return load_prompt(self.prompt_dir, self.prompt_name, lang).version

    def extract(self, post: str, post_date: date | None = None) -> list[Claim]:
        from .prompts import load_prompt

        _check_post(post, self.settings)
        post_date = _as_date(post_date)
        lang = self.settings.prompt_lang if self.settings.prompt_lang != "auto" else detect_lang(post)
        prompt = load_prompt(self.prompt_dir, self.prompt_name, lang)  # a missing prompt is a setup error: raise

        if len(post.strip()) < self.settings.claim_llm_min_chars:
            # A short post is one or two sentences the rules split well; the model's time goes to judging.
            return self.fallback.extract(post, post_date)
        sent, unsent = self._what_to_send(post, post_date)
        if sent is None:
            return self.fallback.extract(post, post_date)
        messages = prompt.messages(post=_FENCE.sub(" ", sent), post_date=post_date.isoformat() if post_date else _UNKNOWN_DATE.get(lang, "unknown"))
        try:
            result = self.llm.generate(messages, ExtractedClaims, name=self.prompt_name)
            answer = ExtractedClaims.model_validate(result.value)
        except (LLMError, ValidationError) as exc:
            logger.warning("Claim extraction by the model failed (%s); using the rules instead.", exc)
            return self.fallback.extract(post, post_date)

        claims = self._map_back(post, post_date, answer)
        if not claims:
            logger.warning("The model gave no claim that could be found in the post; using the rules instead.")
            return self.fallback.extract(post, post_date)
        claims += self._rules._claims(post, post_date, unsent) if unsent else []
        return self._finish(claims)

    def _what_to_send(self, post: str, post_date: date | None) -> tuple[str | None, list[_Candidate]]:
        """The text for the model, and the rule candidates left out of it. ``None`` when there is nothing to send."""
        limit = self.settings.claim_llm_max_chars
        stripped = post.strip()
        if len(stripped) <= limit:
            return stripped, []
        candidates = self._rules._candidates(post, post_date)
        if not candidates:
            return None, []
        sent: list[str] = []
        used = 0
        for i, c in enumerate(candidates):
            piece = post[c.start : c.end]
            if sent and used + len(piece) + 1 > limit:
                return "\n".join(sent), candidates[i:]
            sent.append(piece[:limit])  # one sentence longer than the cap is cut, not skipped
            used += len(piece) + 1
        return "\n".join(sent), []

    def _map_back(self, post: str, post_date: date | None, answer: ExtractedClaims) -> list[Claim]:
        locator = QuoteLocator(post, self.settings.claim_quote_min_overlap)
        claims: list[Claim] = []
        after = 0
        for item in answer.claims:
            # An empty quote falls back to the claim itself (small models sometimes leave it out); a non-empty
            # quote that is not in the post means the model made it up, and the claim is dropped.
            span = locator.locate(item.quote if item.quote.strip() else item.claim, after)
            if span is None:
                logger.info("Dropped a model claim whose quote is not in the post: %r", item.quote[:80])
                continue
            after = span[0]
            source = post[span[0] : span[1]]
            if is_instruction(source):
                logger.info("Dropped a model claim that is an instruction to the checker: %r", source[:80])
                continue
            text = item.claim.strip() or source
            claims.append(_make_claim(_explicit_dates(text, post_date, detect_lang(source)), span, source))
        return claims

    def _finish(self, claims: list[Claim]) -> list[Claim]:
        seen: set[str] = set()
        unique = []
        for claim in sorted(claims, key=lambda c: c.span[0]):
            key = _match_key(claim.text)
            if key and key not in seen:
                seen.add(key)
                unique.append(claim)
        limit = self.settings.claim_max_per_post
        if len(unique) > limit:
            scored = sorted(unique, key=lambda c: (-_fact_score(c.text), c.span[0]))[:limit]
            unique = sorted(scored, key=lambda c: c.span[0])
        return unique


# --------------------------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------------------------

ExtractorFactory = Callable[["Settings", "LLMClient | None"], ClaimExtractor]


def _llm_factory(settings: "Settings", llm: "LLMClient | None") -> ClaimExtractor:
    if llm is None:
        raise ConfigError(
            "claim_extractor is 'llm' but no language model was given. Configure one (FACTCHECK_LLM_BACKEND="
            "llamacpp or openai) or set FACTCHECK_CLAIM_EXTRACTOR=rules."
        )
    return LLMClaimExtractor(llm, settings.prompt_dir, fallback=RuleClaimExtractor(settings), settings=settings)


_REGISTRY: dict[str, ExtractorFactory] = {
    "rules": lambda settings, llm: RuleClaimExtractor(settings),
    "llm": _llm_factory,
}


def claim_extractor_names() -> list[str]:
    return ["auto"] + sorted(_REGISTRY)


def register_claim_extractor(name: str, factory: ExtractorFactory) -> None:
    """Add an extractor (for plugins): ``factory(settings, llm) -> ClaimExtractor``."""
    _REGISTRY[name] = factory


def get_claim_extractor(settings: "Settings", llm: "LLMClient | None" = None) -> ClaimExtractor:
    """The extractor named by ``settings.claim_extractor``; 'auto' is the LLM one when ``llm`` is given, else rules."""
    name = settings.claim_extractor.strip().lower()
    if name == "auto":
        name = "llm" if llm is not None else "rules"
    if name not in _REGISTRY:
        raise UnknownBackendError("claim extractor", settings.claim_extractor, claim_extractor_names())
    return _REGISTRY[name](settings, llm)
