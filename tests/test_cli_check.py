"""`factcheck check` as a user runs it, without a model (signals only) so it is quick."""

import json

from typer.testing import CliRunner

from factcheck.cli import app

runner = CliRunner()


def test_check_json_follows_the_contract(bundled_index):
    out = runner.invoke(app, ["check", "天上出现放射状的地震云，三天之内必有大地震，快提醒家人。", "--backend", "none", "--date", "2024-04-02", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert set(data) >= {"claims", "model", "prompt_version"}
    assert data["model"] == "none" and data["prompt_version"] == "signals-1"
    (claim,) = data["claims"]
    assert set(claim) >= {"claim", "span", "verdict"} and len(claim["span"]) == 2
    verdict = claim["verdict"]
    assert set(verdict) >= {"label", "tactics", "confidence", "rationale", "citations"}
    assert verdict["label"] in {"refuted", "unverified"}
    for c in verdict["citations"]:
        assert set(c) >= {"passage_id", "doc_id", "quote", "url", "publisher", "published_at", "kind"}


def test_check_reads_a_long_post_from_a_file(bundled_index, tmp_path):
    post = tmp_path / "post.txt"
    post.write_text("2021年7月20日，郑州一小时降雨量达到201.9毫米。\n另外，郑州常庄水库主闸已经决堤，下游的人赶紧跑！\n", encoding="utf-8")
    out = runner.invoke(app, ["check", "--file", str(post), "--backend", "none", "--json"])
    assert out.exit_code == 0, out.output
    assert len(json.loads(out.stdout)["claims"]) == 2


def test_check_table_output_names_the_label_in_words(bundled_index):
    out = runner.invoke(app, ["check", "我家楼下新开的奶茶店第一天就排了两百人的长队。", "--backend", "none"])
    assert out.exit_code == 0, out.output
    assert "无法核实" in out.stdout and "unverified" in out.stdout


def test_check_errors_are_one_sentence(bundled_index, tmp_path):
    for args, fragment in [
        (["check", "   ", "--backend", "none"], "empty"),
        (["check", "地震", "--date", "2024/01/01", "--backend", "none"], "is not a date"),
        (["check", "--file", str(tmp_path / "missing.txt")], "Cannot read"),
        (["check"], "Give the text to check"),
        (["check", "地震", "--backend", "gpt5"], "Valid names"),
    ]:
        out = runner.invoke(app, args)
        assert out.exit_code == 1 and fragment in " ".join(out.output.split()), (args, out.output)
        assert "Traceback" not in out.output
