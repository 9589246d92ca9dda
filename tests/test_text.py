"""Text handling: sentences, passages, folding and tokens, in Chinese and English."""

from factcheck.text import chunk_spans, content_hash, detect_lang, normalize_for_match, split_sentences, to_simplified, tokenize


def test_chinese_sentences_split_at_chinese_punctuation_and_keep_quotes():
    text = "网传“今晚有地震！”专家说这是谣言。请勿转发？好的"
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["网传“今晚有地震！”", "专家说这是谣言。", "请勿转发？", "好的"]


def test_english_sentences_do_not_split_inside_numbers():
    text = "The quake measured 6.8 on Monday. It hit Luding county!  Nobody expected it"
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "The quake measured 6.8 on Monday.", "It hit Luding county!", "Nobody expected it"]


def test_empty_text_has_no_sentences_or_passages():
    assert split_sentences("   \n ") == []
    assert chunk_spans("", 100) == []


def test_passages_respect_target_and_overlap_one_sentence():
    sentences = [f"第{i}句话说了一件事。" for i in range(10)]  # 9 or 10 chars each
    text = "".join(sentences)
    chunks = chunk_spans(text, target_chars=30, overlap_sentences=1)
    assert all(e - s <= 30 for s, e in chunks)
    # every sentence is in some passage, and consecutive passages share a sentence
    covered = "".join(text[s:e] for s, e in chunks)
    assert all(sent in covered for sent in sentences)
    for (s1, e1), (s2, e2) in zip(chunks, chunks[1:]):
        assert s2 < e1
    assert chunks[-1][1] == len(text)


def test_a_huge_sentence_is_cut():
    text = "字" * 1000
    chunks = chunk_spans(text, target_chars=100, overlap_sentences=0)
    assert max(e - s for s, e in chunks) <= 200
    assert chunks[-1][1] == 1000


def test_traditional_folds_to_simplified_for_matching_only():
    assert to_simplified("喝鹽水不能殺死病毒") == "喝盐水不能杀死病毒"
    assert normalize_for_match("ＡＢＣ　鹽") == "abc 盐"
    assert content_hash("食鹽  充足") == content_hash("食盐 充足")


def test_language_detection():
    assert detect_lang("双黄连能预防新冠吗") == "zh"
    assert detect_lang("5G towers spread the virus") == "en"
    assert detect_lang("WHO说5G不传播病毒") == "zh"


def test_tokens_use_jieba_for_chinese_and_words_for_english():
    zh = tokenize("双黄连口服液可以预防新型冠状病毒")
    assert "双黄连" in zh and "口服液" in zh and "病毒" in zh
    assert tokenize("雙黃連口服液") == tokenize("双黄连口服液")
    assert tokenize("The 5G towers spread the virus") == ["5g", "towers", "spread", "virus"]
