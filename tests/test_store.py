"""The SQLite store: what is written, how it is found again, migrations, and parallel writers."""

from __future__ import annotations

import functools
import multiprocessing
import sqlite3
import stat
from pathlib import Path

import pytest

from qwen_cli.errors import StoreError, UsageError
from qwen_cli.store import MIGRATIONS, Attachment, NewMessage, Store, default_path
from qwen_cli.store import schema as schema_mod


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "h.db")
    yield s
    s.close()


def turn(s: Store, conv_id: str, q: str, a: str, **answer: object) -> None:
    s.add(conv_id, NewMessage("user", q))
    s.add(conv_id, NewMessage("assistant", a, **answer))  # type: ignore[arg-type]


def v3_add(s: Store, conv_id: str, role: str, content: str, usage: str | None = None) -> int:
    """A message written as qwen did before schema 4 (its INSERT, column for column)."""
    seq = s.db.execute(
        "SELECT coalesce(max(seq), 0) + 1 FROM messages WHERE conversation_id = ?", (conv_id,)
    ).fetchone()[0]
    cur = s.db.execute(
        "INSERT INTO messages (conversation_id, seq, role, content, reasoning, model, options,"
        " usage, prompt_tokens, completion_tokens, total_tokens, created_at, elapsed,"
        " first_token, request_id, response_id, finish_reason, status, error, left_out)"
        " VALUES (?, ?, ?, ?, '', NULL, '{}', ?, NULL, NULL, NULL, 1.0, NULL, NULL, NULL, NULL, NULL,"
        " 'complete', NULL, NULL)",
        (conv_id, seq, role, content, usage),
    )
    return int(cur.lastrowid or 0)


def v3_turn(s: Store, conv_id: str, q: str, a: str) -> None:
    v3_add(s, conv_id, "user", q)
    v3_add(s, conv_id, "assistant", a)


def test_default_path_is_in_the_data_dir(isolated_env: Path) -> None:
    assert default_path() == isolated_env / "data" / "history.db"
    with Store.open() as s:
        assert s.path.is_file()
    assert stat.S_IMODE(default_path().stat().st_mode) == 0o600  # conversations are private


def test_a_conversation_round_trips(store: Store) -> None:
    conv = store.create(model="qwen-max", system="be brief", options={"temperature": 0.2})
    assert len(conv.id) == 12 and int(conv.id, 16) >= 0
    usage = {
        "prompt_tokens": 12,
        "completion_tokens": 30,
        "total_tokens": 42,
        "completion_tokens_details": {"reasoning_tokens": 20},
    }
    img = Attachment("/tmp/cat.png", "image/png", 123, "ab" * 32)
    store.add(conv.id, NewMessage("user", "  What is\nSSE?  ", attachments=[img]))
    store.add(
        conv.id,
        NewMessage(
            "assistant",
            "Server-sent events.",
            reasoning="let me think",
            model="qwen-plus",
            usage=usage,
            elapsed=1.5,
            first_token=0.25,
            request_id="rid-1",
            response_id="chatcmpl-1",
            finish_reason="stop",
            left_out=0,
        ),
    )
    [ex] = store.exchanges(conv.id)
    assert ex.user.content == "  What is\nSSE?  " and ex.user.seq == 1
    assert ex.user.attachments[0].path == "/tmp/cat.png" and ex.user.attachments[0].message_id == ex.user.id
    a = ex.answer
    assert a is not None and a.seq == 2 and a.reasoning == "let me think" and a.status == "complete"
    assert (a.prompt_tokens, a.completion_tokens, a.answer_tokens) == (12, 30, 10)
    assert (a.elapsed, a.first_token, a.request_id, a.response_id) == (1.5, 0.25, "rid-1", "chatcmpl-1")
    got = store.get(conv.id)
    assert got.title == "What is SSE?" and got.model == "qwen-plus" and got.system == "be brief"
    assert (got.turns, got.tokens, got.options) == (1, 42, {"temperature": 0.2})
    assert store.latest() == got


def test_long_titles_are_cut(store: Store) -> None:
    conv = store.create()
    store.add(conv.id, NewMessage("user", "word " * 40))
    title = store.get(conv.id).title
    assert len(title) == 60 and title.endswith("…")


def test_unanswered_and_dropped_messages(store: Store) -> None:
    conv = store.create()
    store.add(conv.id, NewMessage("user", "lost answer"))  # the process died while streaming
    turn(store, conv.id, "q2", "a2")
    exs = store.exchanges(conv.id)
    assert [(e.user.content, e.answer and e.answer.content) for e in exs] == [
        ("lost answer", None),
        ("q2", "a2"),
    ]
    store.drop(exs[1].user.id, exs[1].answer.id)  # type: ignore[union-attr]
    assert [e.user.content for e in store.exchanges(conv.id)] == ["lost answer"]
    hidden = store.db.execute("SELECT count(*) FROM messages WHERE dropped").fetchone()[0]
    assert hidden == 2  # hidden, still on disk
    assert store.get(conv.id).turns == 1


def test_text_utf8_cannot_encode_is_stored_with_replacement_characters(store: Store) -> None:
    conv = store.create(model="m", system="sys \udcff")
    turn(store, conv.id, "q \udcff", "a\ud800b", error="bad \udfff", status="error")
    msgs = store.messages(conv.id)
    assert [(m.content, m.error) for m in msgs] == [("q \ufffd", None), ("a\ufffdb", "bad \ufffd")]
    assert store.get(conv.id).system == "sys \ufffd"
    assert [h.message.content for h in store.search("a\ud800b")] == ["a\ufffdb"]


def test_status_must_be_known(store: Store) -> None:
    conv = store.create()
    with pytest.raises(ValueError):
        store.add(conv.id, NewMessage("assistant", "x", status="weird"))


def test_recent_orders_by_last_use(store: Store) -> None:
    a, b = store.create(), store.create()
    turn(store, a.id, "in a", "x")
    assert [c.id for c in store.recent()] == [a.id, b.id]
    assert [c.id for c in store.recent(1)] == [a.id]


def test_ids_by_unique_prefix(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = iter(["abc123000000", "abc456000000", "def000000000"])
    monkeypatch.setattr("qwen_cli.store.db.new_id", lambda: next(ids))
    for title in ("first", "second", "third"):
        c = store.create()
        store.add(c.id, NewMessage("user", title))
    assert store.resolve("abc1") == "abc123000000"
    assert store.resolve("DEF") == "def000000000"
    with pytest.raises(UsageError) as err:
        store.resolve("abc")
    assert "ambiguous" in err.value.message
    assert "abc123000000 (first)" in err.value.message and "abc456000000 (second)" in err.value.message
    with pytest.raises(UsageError, match="no conversation id starts with 99"):
        store.resolve("99")
    with pytest.raises(UsageError, match="not a conversation id"):
        store.resolve("xyz")
    with pytest.raises(UsageError):
        store.resolve("")


def test_delete_cascades(store: Store) -> None:
    conv = store.create()
    store.add(
        conv.id, NewMessage("user", "remove me please", attachments=[Attachment("/a", "image/png", 1, "00")])
    )
    keep = store.create()
    turn(store, keep.id, "keep this one", "kept")
    assert store.delete(conv.id) and not store.delete(conv.id)
    counts = [
        store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("messages", "attachments")
    ]
    assert counts == [2, 0]
    assert store.search("remove") == [] and len(store.search("keep")) == 1
    store.db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")


def test_attachment_api_for_uploads(store: Store) -> None:
    conv = store.create()
    a = store.add_attachment(conv.id, Attachment("/x.pdf", "application/pdf", 9, "ff", file_id="file-fe-1"))
    assert a.id and a.message_id is None
    assert [x.file_id for x in store.attachments(conv.id)] == ["file-fe-1"]


def test_search(store: Store) -> None:
    conv = store.create()
    turn(store, conv.id, "What is the Context Window of qwen-max?", "It is 32K tokens.")
    turn(store, conv.id, "今天天气怎么样", "天气很好")
    turn(store, conv.id, 'quotes " and 100% _under_', "ok")
    assert store.fts == "trigram"
    assert [h.message.content for h in store.search("context window")] == [
        "What is the Context Window of qwen-max?"
    ]
    assert [h.message.role for h in store.search("32K")] == ["assistant"]
    assert {h.message.content for h in store.search("天气")} == {
        "今天天气怎么样",
        "天气很好",
    }  # 2 chars: LIKE
    assert [h.message.content for h in store.search("天气怎么")] == ["今天天气怎么样"]  # substring: trigram
    assert len(store.search('" and 100%')) == 1 and len(store.search("_under_")) == 1
    assert store.search("100%_") == []  # % and _ are literal
    assert store.search("nowhere to be found") == []
    hit = store.search("32K")[0]
    assert hit.conversation.id == conv.id
    with pytest.raises(UsageError):
        store.search("   ")


def test_search_without_fts5_falls_back_to_like(tmp_path: Path) -> None:
    no_fts = functools.partial(schema_mod._m2_search, tokenizers=("no-such-tokenizer",))
    with Store(tmp_path / "h.db", migrations=[schema_mod._m1_tables, no_fts, *MIGRATIONS[2:]]) as s:
        assert s.fts == "none"
        conv = s.create()
        turn(s, conv.id, "Find ME in a haystack", "ok")
        assert [h.message.content for h in s.search("find me")] == ["Find ME in a haystack"]


def test_migrations_upgrade_old_databases(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with Store(path, migrations=MIGRATIONS[:1]) as old:
        assert old.version == 1
        conv = old.create()
        v3_turn(old, conv.id, "written by an older qwen", "yes")
    with Store(path) as new:
        assert new.version == len(MIGRATIONS) == 4
        assert [h.message.content for h in new.search("older qwen")] == ["written by an older qwen"]
    with Store(path) as again:  # nothing left to do
        assert again.version == 4


def test_attachment_references_round_trip_and_old_rows_migrate(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with Store(path, migrations=MIGRATIONS[:2]) as old:  # a row as an older qwen wrote it
        conv = old.create()
        mid = v3_add(old, conv.id, "user", "old")
        old.db.execute(
            "INSERT INTO attachments (conversation_id, message_id, path, mime_type, size, sha256, created_at)"
            " VALUES (?, ?, '/a.png', 'image/png', 5, '00', 1.0)",
            (conv.id, mid),
        )
    ref = {
        "path": "/big.png",
        "kind": "image",
        "type": "png",
        "mime": "image/png",
        "size": 9_000_000,
        "sha256": "ab" * 32,
        "width": 40,
        "height": 30,
        "via": "oss",
        "url": "oss://dir/big.png",
        "file_id": None,
        "model": "qwen-vl-max",
    }
    with Store(path) as new:
        new.add(conv.id, NewMessage("user", "new", attachments=[Attachment.of(ref)]))
        before, after = (m.attachments[0] for m in new.messages(conv.id))
    assert (before.path, before.kind, before.via, before.model, before.is_image) == (
        "/a.png",
        None,
        None,
        None,
        True,
    )
    assert after.record() == ref and after.is_image and after.created_at


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StoreError, match="schema version 99"):
        Store(path)


def test_an_unusable_place_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError) as err:
        Store(tmp_path / "file" / "h.db")
    assert err.value.hint and "QWEN_DATA_DIR" in err.value.hint and err.value.exit_code == 1


# --------------------------------------------------------------------------- parallel processes

WRITERS = 6
TURNS = 15


def _writer(path: str, shared: str, n: int) -> str:
    with Store(path) as s:
        own = s.create(model=f"m{n}")
        for i in range(TURNS):
            turn(s, own.id, f"writer {n} question {i}", f"writer {n} answer {i}", usage={"total_tokens": 2})
            s.add(shared, NewMessage("user", f"shared from {n} #{i}"))
        return own.id


def _opener(path: str, n: int) -> int:
    with Store(path) as s:
        return s.version


def test_parallel_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with Store(path) as s:
        shared = s.create().id
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(WRITERS) as pool:
        own_ids = pool.starmap(_writer, [(str(path), shared, n) for n in range(WRITERS)])
    with Store(path) as s:
        assert s.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        s.db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
        assert len(set(own_ids)) == WRITERS
        for n, conv_id in enumerate(own_ids):
            exs = s.exchanges(conv_id)
            assert [e.user.content for e in exs] == [f"writer {n} question {i}" for i in range(TURNS)]
            assert all(e.answer and e.answer.content.startswith(f"writer {n} answer") for e in exs)
            assert s.get(conv_id).tokens == 2 * TURNS
        seqs = [m.seq for m in s.messages(shared)]
        assert seqs == list(range(1, WRITERS * TURNS + 1))  # no gaps, no duplicates
        texts = {m.content for m in s.messages(shared)}
        assert texts == {f"shared from {n} #{i}" for n in range(WRITERS) for i in range(TURNS)}
        assert len(s.search("question", limit=1000)) == WRITERS * TURNS


def test_parallel_first_opens_migrate_once(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "h.db"
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(WRITERS) as pool:
        versions = pool.starmap(_opener, [(str(path), n) for n in range(WRITERS * 2)])
    assert versions == [len(MIGRATIONS)] * (WRITERS * 2)
    with Store(path) as s:
        assert s.db.execute("SELECT count(*) FROM meta").fetchone()[0] == 1
        assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
