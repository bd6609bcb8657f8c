import json

from chouyang.round.folder import Round, sha256_file


def test_init_copies_inputs_with_fingerprints(initialised, county):
    rnd = Round.open(initialised)
    files = rnd.manifest()["files"]
    assert set(files) == {"frame", "teams", "women", "births", "procedures"}
    assert files["frame"]["sha256"] == sha256_file(county["frame"])
    assert (initialised / "inputs" / "register" / "women.csv").read_bytes() == \
        (county["register"] / "women.csv").read_bytes()
    assert rnd.rules().round.id == "2016H1"
    assert len(rnd.secret()) == 32
    assert [e["action"] for e in rnd.log_entries()] == ["init"]


def test_init_refuses_bad_input_and_writes_nothing(county, tmp_path, run):
    (county["register"] / "births.csv").write_text(
        "birth_id,mother_id,child_name,sex,birth_date,parity,policy,unit_code\n"
        "B1,123,王小明,男,2015-10-01,0,政策内,411381001201\n", encoding="utf-8")
    code, out, err = run("init", tmp_path / "R", "--preset", "dengzhou-2016h1", "--frame", county["frame"],
                         "--teams", county["teams"], "--register", county["register"])
    assert code == 1
    assert "births.csv，第 2 行，列「mother_id」" in err and "births.csv，第 2 行，列「parity」" in err
    assert "Traceback" not in err
    assert not (tmp_path / "R").exists()


def test_init_refuses_existing_folder(initialised, county, run):
    code, _, err = run("init", initialised, "--preset", "flat-cap8", "--frame", county["frame"],
                       "--teams", county["teams"], "--register", county["register"])
    assert code == 1 and "已存在" in err


def test_modified_input_after_draw_is_refused(initialised, run):
    assert run("draw", initialised, "--seed", "42")[0] == 0
    frame = initialised / "inputs" / "frame.csv"
    frame.write_text(frame.read_text(encoding="utf-8").replace("东关社区", "东门社区"), encoding="utf-8")
    code, _, err = run("plan", initialised)
    assert code == 1 and "inputs/frame.csv" in err and "与抽样时记录的指纹（draw.json）不一致" in err
    code, out, err = run("verify", initialised)
    assert code == 1 and "输入文件 frame 与抽样时不一致" in out


def test_modified_rules_after_draw_is_refused(initialised, run):
    assert run("draw", initialised, "--seed", "42")[0] == 0
    rules = initialised / "rules.toml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("cap = 15", "cap = 20"), encoding="utf-8")
    code, _, err = run("plan", initialised)
    assert code == 1 and "rules.toml 在抽样之后被修改" in err


def test_rules_may_be_edited_before_draw(initialised, run):
    rules = initialised / "rules.toml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("points_per_township = 2",
                                                               "points_per_township = 1"), encoding="utf-8")
    assert run("draw", initialised, "--seed", "42")[0] == 0
    record = json.loads((initialised / "draw.json").read_text(encoding="utf-8"))
    assert record["rules_sha256"] == sha256_file(rules)
    assert record["counts"]["primary"] == 3
