"""round/store.py, the one module that speaks SQL: its schema, its round trips and its transactions."""

from __future__ import annotations

import sqlite3

import pytest

from chouyang.errors import ChouyangError
from chouyang.round import store

TABLES = ["assessment_entries", "case_status", "entries", "ingests", "instrument_passes", "instrument_responses",
          "instrument_submissions", "keyed_errors", "keyed_passes", "log", "review_decisions", "users"]


def _tables(con) -> list[str]:
    return [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'sqlite_sequence' "
                                      "ORDER BY name")]


def test_one_schema_creates_every_table_and_can_run_again():
    con = sqlite3.connect(":memory:")
    store.ensure_schema(con)
    store.ensure_schema(con)  # IF NOT EXISTS: a second run (every later opening) changes nothing
    assert _tables(con) == TABLES


def test_entries_round_trip_with_row_keys_and_replacement(tmp_path):
    path = tmp_path / "store.sqlite"
    births = [{"ref": "B002", "result": "属实"}, {"ref": "B001", "result": "虚报"}]
    missed = [{"name": "甲"}, {"name": "乙"}]
    with store.transaction(path, immediate=True) as con:
        store.store_entries(con, "U1", {"births_check": births, "missed_births": missed}, "d1", "a.xlsx", "t1")
    with store.transaction(path) as con:
        stored = store.stored_entries(con, "U1")
        assert store.stored_digest(con, "U1") == "d1" and store.stored_digest(con, "U2") is None
        assert store.ingested_units(con) == ["U1"]
    # rows come back ordered by their key: refs sort B001 before B002; new rows keep their entry order
    assert [r["ref"] for r in stored["births_check"]] == ["B001", "B002"]
    assert [r["name"] for r in stored["missed_births"]] == ["甲", "乙"]
    with store.transaction(path, immediate=True) as con:
        store.store_entries(con, "U1", {"births_check": births[:1]}, "d2", "b.xlsx", "t2")
        assert store.stored_entries(con, "U1") == {"births_check": births[:1]} and store.stored_digest(con, "U1") == "d2"


def test_an_error_inside_a_transaction_leaves_the_store_as_it_was(tmp_path):
    path = tmp_path / "store.sqlite"
    with store.transaction(path, immediate=True) as con:
        store.insert_log(con, "t1", "张三", "init", {"n": 1})
    with pytest.raises(RuntimeError), store.transaction(path, immediate=True) as con:
        store.insert_log(con, "t2", "李四", "draw", {"n": 2})
        store.put_user(con, "李四", "hash", "t2")
        raise RuntimeError("power cut")
    with store.transaction(path) as con:
        assert [(r["user"], r["action"], r["detail"]) for r in store.log_rows(con)] == [("张三", "init", {"n": 1})]
        assert store.log_rows(con, "draw") == [] and store.user_names(con) == []


def test_users_keyed_passes_and_review_decisions_round_trip():
    con = sqlite3.connect(":memory:")
    store.ensure_schema(con)
    store.put_user(con, "赵六", "h1", "t")
    store.put_user(con, "李四", "h2", "t")
    assert store.user_names(con) == ["李四", "赵六"] and store.password_hash(con, "赵六") == "h1"
    assert store.user_exists(con, "李四") and not store.user_exists(con, "王五") and store.password_hash(con, "王五") is None
    store.put_keyed_pass(con, "U2", 1, "甲", "draft", {"s": [{"a": "1"}]}, "t1")
    store.put_keyed_pass(con, "U1", 2, "乙", "done", {}, "t2")
    store.put_keyed_pass(con, "U2", 1, "甲", "done", {"s": []}, "t3")  # a pass is replaced, not added
    assert store.keyed_pass_rows(con) == [("U1", 2, "乙", "done", {}, "t2"), ("U2", 1, "甲", "done", {"s": []}, "t3")]
    assert store.keyed_pass_rows(con, "U1") == [("U1", 2, "乙", "done", {}, "t2")]
    store.put_keyed_errors(con, "U1", 1, "甲", 40, 2)
    store.put_keyed_errors(con, "U1", 2, "乙", 40, 0)
    store.put_keyed_errors(con, "U2", 1, "甲", 10, 1)
    assert store.clerk_error_sums(con) == [("乙", 1, 40, 0), ("甲", 2, 50, 3)]
    store.put_review_decision(con, "U1", "births_check/1", "accepted", {"result": "属实"}, "甲", "t")
    assert store.review_decision_rows(con, "U1") == [("U1", "births_check/1", "accepted", {"result": "属实"}, "甲", "t")]
    assert store.review_decision_rows(con, "U2") == []


def test_a_refused_status_change_writes_nothing():
    con = sqlite3.connect(":memory:")
    store.ensure_schema(con)
    with pytest.raises(ChouyangError, match="不能改为「复核」"):
        store.change_case_status(con, "U1", "B001", "birth_false", "id1", "复核", "", "张三", "t")
    assert store.case_history(con) == []
    assert store.change_case_status(con, "U1", "B001", "birth_false", "id1", "有异议", "  不认可 ", "张三", "t") == "现场反馈"
    [change] = store.case_history(con, "U1", "B001")
    assert (change.status, change.comment, change.identity) == ("有异议", "不认可", "id1")  # the comment as recorded: stripped


def test_a_damaged_store_is_named_with_a_chinese_reason(tmp_path):
    path = tmp_path / "store.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ChouyangError, match="已损坏") as info, store.transaction(path):
        pass
    assert str(path) in str(info.value) and path.read_bytes() == b"not a database at all" * 100
    locked = store.store_error(path, sqlite3.OperationalError("database is locked"))
    assert f"等待 {store.STORE_TIMEOUT} 秒" in str(locked)
