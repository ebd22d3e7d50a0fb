"""`qwen translate`: options body, glossaries, languages, pieces of a long document, the history."""

from __future__ import annotations

from pathlib import Path

import pytest

from qwen_cli import catalog, languages
from qwen_cli import translate as tr
from qwen_cli.errors import UsageError
from tests.chatkit import bodies, only_conversation, store
from tests.chatkit import srv as srv  # fixture: a FakeServer the in-process CLI talks to
from tests.fakeserver import FakeServer, error_spec


def document(paragraphs: int = 20) -> str:
    """A Markdown file of ``paragraphs`` paragraphs under headings, with a list and two code
    blocks that hold blank lines (a cut there would break them)."""
    out = ["# Translating a document", ""]
    for i in range(1, paragraphs + 1):
        if i % 5 == 1:
            out += [f"## Part {i // 5 + 1}", ""]
        out += [
            f"Paragraph {i} says something worth translating, with **bold**, `code` and a "
            f"[link](https://example.com/{i}). It runs on for a while so that it has some weight.",
            "",
        ]
        if i == 7:
            out += ["- first point", "- second point", "  - nested point", ""]
        if i in (9, 16):
            out += [
                "```python",
                f"def step_{i}() -> int:",
                "",
                "    # a blank line above",
                f"    return {i}",
                "```",
                "",
            ]
    out += ["> The end.", ""]
    return "\n".join(out)


def joined(lead: str, pieces: list[tr.Piece]) -> str:
    return lead + "".join(p.text + p.after for p in pieces)


# --------------------------------------------------------------------------- pieces


def test_a_short_text_is_one_piece() -> None:
    assert tr.split("Hello world\n", 1000) == ("", [tr.Piece("Hello world", "\n")])


@pytest.mark.parametrize("budget", [60, 90, 200, 5000])
def test_pieces_put_back_together_are_the_document(budget: int) -> None:
    doc = document()
    lead, pieces = tr.split(doc, budget)
    assert joined(lead, pieces) == doc
    for p in pieces:
        assert p.text.count("```") % 2 == 0, p.text  # a code block is never cut
        assert not p.after.strip()  # only whitespace between pieces
    if budget < 5000:
        assert len(pieces) > 3
        assert all(p.text.startswith(("#", "Paragraph", "```", "- ", "> ")) for p in pieces)


def test_pieces_keep_within_the_budget_but_a_code_block_stays_whole() -> None:
    from qwen_cli.conversation import estimate_tokens

    doc = document()
    _, pieces = tr.split(doc, 60)
    for p in pieces:
        assert estimate_tokens(p.text) <= 60 or p.text.startswith("```"), p.text


def test_an_overlong_paragraph_is_cut_at_sentences_then_characters() -> None:
    para = " ".join(f"Sentence number {i} is here." for i in range(40)) + " " + "x" * 400
    text = f"\n\n{para}\n"
    lead, pieces = tr.split(text, 30)
    assert lead == "\n\n" and joined(lead, pieces) == text
    assert len(pieces) > 5


def test_leading_and_trailing_space_and_crlf_are_kept() -> None:
    text = "\n  \nOne.\r\n\r\nTwo.\r\n\r\n\n"
    lead, pieces = tr.split(text, 2)
    assert joined(lead, pieces) == text
    assert [p.text for p in pieces] == ["One.", "Two."]


def test_an_unclosed_code_block_runs_to_the_end() -> None:
    text = "Intro.\n\n```\ncode\n\nmore code\n"
    _, pieces = tr.split(text, 2)
    assert [p.text for p in pieces] == ["Intro.", "```\ncode\n\nmore code"]


# --------------------------------------------------------------------------- options, files


def test_options_body() -> None:
    opts = tr.translation_options(
        "auto",
        "English",
        terms=[tr.Pair("合同", "contract")],
        tm=[tr.Pair("甲方", "Party A")],
        domain=" legal contracts ",
    )
    assert opts == {
        "source_lang": "auto",
        "target_lang": "English",
        "terms": [{"source": "合同", "target": "contract"}],
        "tm_list": [{"source": "甲方", "target": "Party A"}],
        "domains": "legal contracts",
    }
    assert tr.translation_options("Chinese", "English") == {
        "source_lang": "Chinese",
        "target_lang": "English",
    }


def test_glossary_csv_and_tm_tsv(tmp_path: Path) -> None:
    g = tmp_path / "g.csv"
    g.write_text('source,target\n\n合同,contract\n"Party A, the buyer",甲方\n', encoding="utf-8")
    assert tr.read_pairs(str(g), flag="--terms") == [
        tr.Pair("合同", "contract"),
        tr.Pair("Party A, the buyer", "甲方"),
    ]
    t = tmp_path / "m.tsv"
    t.write_bytes("\ufeff我很好。\tI am fine.\n".encode())
    assert tr.read_pairs(str(t), flag="--tm") == [tr.Pair("我很好。", "I am fine.")]


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"a,b\nc\n", "line 2: expected two columns (source,target), got 1 column"),
        (b"a,b,c\n", "line 1: expected two columns (source,target), got 3 columns"),
        (b"a,\n", "line 1: expected two columns (source,target), got an empty one"),
        (b"ok,fine\n\xff\xfe,x\n", "line 2: not UTF-8 text"),
        (b"\n\n", "no source,target pairs in it"),
    ],
)
def test_a_bad_glossary_is_refused(tmp_path: Path, content: bytes, said: str) -> None:
    g = tmp_path / "g.csv"
    g.write_bytes(content)
    with pytest.raises(UsageError) as e:
        tr.read_pairs(str(g), flag="--terms")
    assert e.value.message == f"--terms {g} {said}".replace(f"{g} no", f"{g}: no")


def test_languages_by_name_code_alias_any_case() -> None:
    assert len(languages.LANGUAGES) == 92
    assert languages.resolve("indonesian") == languages.resolve("ID") == "Indonesian"
    assert languages.resolve("zh_tw") == languages.resolve("zh-TW") == "Traditional Chinese"
    assert languages.resolve("Farsi") == "Western Persian"
    assert languages.resolve("Auto", allow_auto=True) == "auto"
    with pytest.raises(UsageError, match="unknown language 'auto'"):
        languages.resolve("auto")


def test_an_unknown_language_lists_close_matches() -> None:
    with pytest.raises(UsageError) as e:
        languages.resolve("Indonesain")
    assert e.value.message == "--to: unknown language 'Indonesain'; did you mean Indonesian?"


def test_catalogue_knows_the_mt_models() -> None:
    for name in ("qwen-mt-plus", "qwen-mt-flash", "qwen-mt-turbo", "qwen-mt-lite"):
        spec = catalog.lookup(name)
        assert (
            spec.known and spec.context == 16_384 and spec.input_limit == 8_192 and spec.max_output == 8_192
        )
        assert spec.price("cn") is not None and spec.price("intl") is not None
    assert (
        tr.chunk_budget(catalog.lookup("qwen-mt-flash"), {"source_lang": "auto", "target_lang": "en"}) == 4096
    )
    assert tr.streams_increments("qwen-mt-flash") and not tr.streams_increments("qwen-mt-plus")


# --------------------------------------------------------------------------- the command


def test_translates_with_options_and_no_system_message(run_cli, srv: FakeServer, tmp_path: Path) -> None:
    g = tmp_path / "g.csv"
    g.write_text("合同,contract\n", encoding="utf-8")
    m = tmp_path / "m.tsv"
    m.write_text("甲方\tParty A\n", encoding="utf-8")
    r = run_cli(
        "translate", "合同 hello", "--to", "en", "--from", "zh", "--terms", str(g), "--tm", str(m),
        "--domain", "legal contracts",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert r.out == "合同 HELLO\n"
    [body] = bodies(srv)
    assert body["model"] == "qwen-mt-flash" and body["stream"] is True
    assert body["messages"] == [{"role": "user", "content": "合同 hello"}]
    assert body["translation_options"] == {
        "source_lang": "Chinese",
        "target_lang": "English",
        "terms": [{"source": "合同", "target": "contract"}],
        "tm_list": [{"source": "甲方", "target": "Party A"}],
        "domains": "legal contracts",
    }
    assert "enable_thinking" not in body and "temperature" not in body
    assert r.err.startswith("qwen-mt-flash · ") and r.err.count("\n") == 1  # one footer


def test_plus_is_asked_for_whole_answers(run_cli, srv: FakeServer) -> None:
    r = run_cli("translate", "hi", "--to", "French", "-m", "qwen-mt-plus")
    assert r.code == 0 and r.out == "HI\n"
    assert bodies(srv)[0]["stream"] is False


def test_a_long_document_in_pieces_in_order_one_footer(run_cli, srv: FakeServer) -> None:
    doc = document()
    r = run_cli("translate", "-", "--to", "Indonesian", "--chunk-tokens", "80", stdin=doc.encode())
    assert r.code == 0, r.err
    assert r.out == doc.upper()  # every piece back, in order, headings and code blocks whole
    sent = [b["messages"][0]["content"] for b in bodies(srv)]
    assert len(sent) > 5 and all(len(b["messages"]) == 1 for b in bodies(srv))
    pos = 0
    for text in sent:  # each piece is a verbatim run of the document, sent in order
        assert text.count("```") % 2 == 0, text  # code blocks unsplit
        found = doc.index(text, pos)
        assert not doc[pos:found].strip()  # nothing skipped between pieces
        pos = found + len(text)
    assert not doc[pos:].strip()
    headings = [ln for ln in doc.splitlines() if ln.startswith("#")]
    assert [ln for s in sent for ln in s.splitlines() if ln.startswith("#")] == headings
    footer = r.err.strip().splitlines()
    assert len(footer) == 1 and footer[0].endswith(f" · {len(sent)} requests")
    _, [ex] = only_conversation()
    assert ex.user.content == doc and ex.answer and ex.answer.content == doc.upper()
    assert ex.answer.status == "complete"
    assert ex.answer.usage_model is not None
    assert ex.answer.usage_model.completion_tokens == sum(-(-len(s) // 4) for s in sent)  # every piece's
    assert f" · {ex.answer.usage_model.completion_tokens} out · " in footer[0]
    with store() as s:
        assert s.recent()[0].source == "translate"


def test_no_log_keeps_nothing(run_cli, srv: FakeServer, isolated_env: Path) -> None:
    assert run_cli("translate", "secret", "--to", "en", "--no-log").code == 0
    assert not (isolated_env / "data" / "history.db").exists()


def test_a_failing_piece_keeps_what_came_and_says_why(run_cli, srv: FakeServer) -> None:
    doc = "First paragraph, long enough alone.\n\nSecond paragraph, long enough too.\n\nThird.\n"
    srv.enqueue(
        {"match": "/chat/completions", "sse": [_chunk("FIRST.")]},
        error_spec(400, "bad piece", "invalid_parameter_error", match="/chat/completions"),
    )
    r = run_cli("translate", "-", "--to", "en", "--chunk-tokens", "16", stdin=doc.encode())
    assert r.code == 1 and r.out == "FIRST.\n\n"
    assert "qwen: error:" in r.err and "bad piece" in r.err and "Traceback" not in r.err
    assert len(bodies(srv)) == 2  # the third piece is not sent
    _, [ex] = only_conversation()
    assert ex.answer and ex.answer.content == "FIRST.\n\n" and ex.answer.status == "error"


def _chunk(text: str) -> dict[str, object]:
    return {"id": "c", "model": "qwen-mt-flash", "choices": [{"index": 0, "delta": {"content": text}}]}


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--to", "Klingon"], "qwen: error: --to: unknown language 'Klingon'"),
        (
            ["--to", "Indonesain"],
            "qwen: error: --to: unknown language 'Indonesain'; did you mean Indonesian?",
        ),
        (
            ["--to", "en", "--from", "Englsh"],
            "qwen: error: --from: unknown language 'Englsh'; did you mean English",
        ),
        (["--to", "en", "--tm", "missing.tsv"], "qwen: error: --tm missing.tsv: no such file"),
        (["--to", "en", "--terms", "bad.csv"], "qwen: error: --terms bad.csv line 1: expected two columns"),
        (["--to", "en", "--terms", "latin1.csv"], "qwen: error: --terms latin1.csv line 1: not UTF-8 text"),
        ([], "qwen: error: --to is needed"),
        (["--to", "en", "-m", " "], "qwen: error: --model must name a model"),
    ],
)
def test_bad_input_is_one_error_exit_2_nothing_sent(
    run_cli, srv: FakeServer, args: list[str], said: str
) -> None:
    Path("bad.csv").write_text("one;two\n", encoding="utf-8")
    Path("latin1.csv").write_bytes("café,caf\xe9\n".encode("latin-1"))
    r = run_cli("translate", "some text", *args)
    assert r.code == 2 and r.out == ""
    err = r.err.splitlines()
    assert len(err) == 2 and err[0].startswith(said) and err[1].startswith("hint: "), r.err
    assert srv.requests == []


def test_nothing_to_translate(run_cli, srv: FakeServer) -> None:
    r = run_cli("translate", "-", "--to", "en", stdin=b"  \n")
    assert r.code == 2 and r.err.startswith("qwen: error: nothing to translate\nhint: ")
    assert srv.requests == []


def test_languages_lists_them_all(run_cli) -> None:
    r = run_cli("translate", "--languages")
    assert r.code == 0
    rows = r.out.splitlines()
    assert len(rows) == 92 and rows[0] == "English\ten" and "Indonesian\tid" in rows
