"""The one TOML reader (config/toml.py): strict UTF-8 with the bad byte's place, BOM dropped, syntax errors in Chinese."""

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chouyang.assessment.scheme import load_scheme, scheme_text
from chouyang.config.rules import load_rules, round_rules_text
from chouyang.config.toml import loads_toml, read_toml, syntax_message
from chouyang.errors import ChouyangError
from chouyang.render.checklist_pdf import load_checklist_layout
from chouyang.render.layout import load_layout

RULES = round_rules_text("dengzhou-2016h1", "R2016H1")


def test_gbk_rules_file_is_refused_naming_the_file_and_the_first_bad_byte(tmp_path):
    # it used to be read with replacement characters, which ended up in the printed round name
    path = tmp_path / "rules.toml"
    path.write_bytes(RULES.encode("gbk"))
    with pytest.raises(ChouyangError) as info:
        load_rules(path)
    message = str(info.value)
    # the preset's first line is "# 邓州市…": "邓" is GBK 0xB5 0xCB, the third byte of the file
    assert message.startswith(f"规则文件 {path} 不是 UTF-8 编码的文本（第 1 行，第 3 个字节 0xB5 起")
    assert "另存为 UTF-8" in message


def test_bad_byte_is_located_by_line():
    data = "a = 1\nb = 2\n# 规则\n".encode("gbk")  # 12 ASCII bytes, then "# ", then 规 = 0xB9 0xE6
    with pytest.raises(ChouyangError, match=r"^考核方案 s\.toml 不是 UTF-8 编码的文本（第 3 行，第 15 个字节 0xB9 起"):
        loads_toml(data, "s.toml", "考核方案")


def test_gbk_scheme_file_is_refused(tmp_path):
    path = tmp_path / "scheme.toml"
    path.write_bytes(scheme_text("flat-cap8").encode("gbk"))
    with pytest.raises(ChouyangError, match=f"^考核方案 {path} 不是 UTF-8 编码的文本（第 1 行"):
        load_scheme(path)


def test_bom_is_accepted_and_the_hash_is_of_the_bytes_on_disk(tmp_path):
    path = tmp_path / "rules.toml"
    raw = b"\xef\xbb\xbf" + RULES.encode("utf-8")
    path.write_bytes(raw)
    rules = load_rules(path)
    assert rules.round.id == "R2016H1" and rules.sampling.points_per_township == 2
    assert rules.sha256 == hashlib.sha256(raw).hexdigest()  # what the draw records and later compares


def test_bom_scheme_is_accepted(tmp_path):
    path = tmp_path / "scheme.toml"
    path.write_bytes(b"\xef\xbb\xbf" + scheme_text("flat-cap8").encode("utf-8"))
    assert load_scheme(path).points == load_scheme(_plain(tmp_path, "flat-cap8")).points


def _plain(tmp_path, name):
    path = tmp_path / f"{name}.toml"
    path.write_text(scheme_text(name), encoding="utf-8")
    return path


def test_syntax_error_names_file_line_and_column(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(RULES.replace("[sampling]", "[sampling", 1), encoding="utf-8")
    line = RULES.splitlines().index("[sampling]") + 1
    with pytest.raises(ChouyangError) as info:
        load_rules(path)
    assert str(info.value) == (f"规则文件 {path} 不是有效的 TOML：第 {line} 行第 10 列：表头应以「]」结束"
                               "（Expected ']' at the end of a table declaration）")


@pytest.mark.parametrize("text, where, words", [
    ("a = 1\nb = \n", "第 2 行第 5 列", "值的写法不对"),
    ("a = 1\na = 2\n", "第 2 行第 6 列", "同一个键赋值了两次"),
    ('a = "x', "文件末尾", "文本缺少结尾的引号"),
    ("x = [1, 2", "文件末尾", "数组缺少结尾的「]」"),
    ("名字 = 1", "第 1 行第 1 列", "这一行不是「键 = 值」也不是表头（不加引号的键名只能用英文字母"),
])
def test_syntax_messages(text, where, words):
    with pytest.raises(ChouyangError) as info:
        loads_toml(text, "x.toml", "规则文件")
    assert str(info.value).startswith(f"规则文件 x.toml 不是有效的 TOML：{where}：{words}")


def test_unknown_message_is_kept_as_it_is():
    assert syntax_message("Something new (at line 4, column 2)") == "第 4 行第 2 列：Something new"
    assert syntax_message("no place") == "no place"


def test_unreadable_file(tmp_path):
    with pytest.raises(ChouyangError, match=f"^无法读取规则文件 {tmp_path / 'none.toml'}："):
        read_toml(tmp_path / "none.toml", "规则文件")


def test_read_toml_reads_utf8_text(tmp_path):
    path = tmp_path / "x.toml"
    path.write_bytes('[form]\ntitle = "考核清单"\n'.encode("utf-8"))
    assert read_toml(path, "表格版式") == {"form": {"title": "考核清单"}}


def test_form_layouts_are_read_through_it():
    assert load_layout("survey").form["code"] == "HC2"
    assert load_checklist_layout()["page"] == [210, 297]


@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
                       st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12), max_size=5))
def test_text_round_trips_with_or_without_bom(table):
    text = "".join(f"{k} = {_basic(v)}\n" for k, v in table.items())
    assert loads_toml(text.encode("utf-8"), "t.toml", "w") == table
    assert loads_toml(b"\xef\xbb\xbf" + text.encode("utf-8"), "t.toml", "w") == table
    assert loads_toml("\ufeff" + text, "t.toml", "w") == table


def _basic(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
