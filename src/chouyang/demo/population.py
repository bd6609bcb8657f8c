"""The synthetic demo county: 邓州市's 27 real township-level units plus 杏山.

Villages, people and the hidden "field truth" are synthetic and fully
determined by the demo seed.  The truth plants errors of every kind of
SPEC §2.3, some confirmed by enough witnesses and some not, so every later
step (entry, scoring) has something real to find.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from chouyang.inputs.readers import id_check_digit

XINGSHAN = ("411381550", "杏山旅游管理区")  # not an official division; synthetic code
COUNTY_REGION = "411381"

_SURNAMES = list("王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
_GIVEN_F = list("秀英兰芳娟敏静丽艳玲霞红梅琴云华燕萍桂珍凤莉洁婷雪慧颖佳倩晶瑶欣怡悦雯蕾")
_GIVEN_M = list("伟强磊军勇杰涛明超刚平辉鹏华飞鑫波宇浩凯健俊帅斌峰龙阳宁博文")
_VILLAGE_A = list("东西南北前后大小上下新老高杨李张王刘陈赵马朱孙胡")
_VILLAGE_B = ["庄", "营", "楼", "岗", "集", "湾", "寨", "店", "桥", "河", "洼", "坡", "沟", "园", "岭", "堂", "屯", "铺"]


def demo_townships() -> pd.DataFrame:
    table = pd.read_csv(files("chouyang").joinpath("data", "dengzhou_townships.csv"), dtype=str)
    extra = pd.DataFrame([{"township_code": XINGSHAN[0], "township_name": XINGSHAN[1]}])
    return pd.concat([table, extra], ignore_index=True)


def demo_rng(seed: str, part: str) -> np.random.Generator:
    """The generator of one part of the demo (frame, register, truth, teams, scans): each part draws on its own."""
    digest = hashlib.sha256(f"chouyang-demo|{seed}|{part}".encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))


def _name(rng: np.random.Generator, female: bool) -> str:
    given = _GIVEN_F if female else _GIVEN_M
    n = 1 + int(rng.random() < 0.7)
    return str(rng.choice(_SURNAMES)) + "".join(str(rng.choice(given)) for _ in range(n))


def _person_id(rng: np.random.Generator, birth: dt.date, female: bool, taken: set[str]) -> str:
    while True:
        seq = int(rng.integers(0, 500)) * 2 + (0 if female else 1)
        body = f"{COUNTY_REGION}{birth:%Y%m%d}{seq:03d}"
        pid = body + id_check_digit(body)
        if pid not in taken:
            taken.add(pid)
            return pid


def _date_between(rng: np.random.Generator, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=int(rng.integers(0, (end - start).days + 1)))


def make_frame(seed: str) -> pd.DataFrame:
    rng = demo_rng(seed, "frame")
    rows = []
    for t in demo_townships().itertuples():
        street = t.township_name.endswith("街道")
        n = int(rng.integers(4, 9)) if t.township_code == XINGSHAN[0] else int(rng.integers(8, 19))
        names: set[str] = set()
        for i in range(n):
            while True:
                base = str(rng.choice(_VILLAGE_A)) + str(rng.choice(_VILLAGE_B))
                name = base + ("社区" if street else "村")
                if name not in names:
                    names.add(name)
                    break
            wcba = int(rng.integers(20, 151))
            households = int(wcba * rng.uniform(1.5, 2.2))
            rows.append({"township_code": t.township_code, "township_name": t.township_name,
                         "unit_code": f"{t.township_code}{200 + i:03d}", "unit_name": name,
                         "households": households, "population": int(households * rng.uniform(3.2, 4.0)),
                         "wcba": wcba, "exclude": 0, "exclude_reason": ""})
    frame = pd.DataFrame(rows)
    big = frame.groupby("township_code").unit_code.transform("size") >= 15
    flagged = frame[big].groupby("township_code").head(1).index[::3]
    frame.loc[flagged, "exclude"] = 1
    frame.loc[flagged, "exclude_reason"] = "村庄撤并，已并入邻村"
    return frame


_IN_UNION = ("初婚", "再婚")  # currently married: the women who use contraception and give birth


def _marital_status(rng: np.random.Generator, age: int) -> str:
    if not (age >= 21 and rng.random() < 0.85):
        return "未婚"
    return str(rng.choice(["初婚", "再婚", "离婚", "丧偶"], p=[0.9, 0.05, 0.03, 0.02]))


def _contraception(rng: np.random.Generator, birth: dt.date, start: dt.date, end: dt.date) -> tuple[str, str, bool]:
    """(method, date, recent) of a married woman; `recent` when the method began in the reference period."""
    method = str(rng.choice(["上环", "结扎", "皮埋", "药具", "无"], p=[0.45, 0.2, 0.03, 0.12, 0.2]))
    if method == "无":
        return method, "", False
    recent = rng.random() < 0.15
    d = (_date_between(rng, start, end) if recent else
         _date_between(rng, dt.date(max(birth.year + 20, start.year - 15), 1, 1), start - dt.timedelta(days=1)))
    return method, d.isoformat(), recent


def _registered_birth(rng: np.random.Generator, unit_code: str, pid: str, mother_name: str, start: dt.date,
                      end: dt.date) -> dict:
    """A birth to this mother, mostly inside the reference period, some in the year before it."""
    parity = int(rng.choice([1, 2, 3, 4], p=[0.5, 0.42, 0.07, 0.01]))
    inside = rng.random() < 0.88
    bdate = (_date_between(rng, start, end) if inside else
             _date_between(rng, start - dt.timedelta(days=365), start - dt.timedelta(days=1)))
    female = rng.random() < 1 / 2.12
    return {"mother_id": pid, "child_name": mother_name[0] + _name(rng, female)[1:],
            "sex": "女" if female else "男", "birth_date": bdate.isoformat(),
            "parity": parity, "policy": "政策内" if parity <= 2 else "政策外",
            "unit_code": unit_code, "mother_name": mother_name}


def _register_woman(rng: np.random.Generator, unit, n_households: int, start: dt.date, end: dt.date,
                    taken: set[str], rows: dict[str, list]) -> None:
    """Add one woman of childbearing age to `rows`, with her births, procedures and benefits."""
    birth = _date_between(rng, dt.date(start.year - 49, 7, 1), dt.date(end.year - 15, 6, 30))
    age = (end - birth).days // 365
    pid = _person_id(rng, birth, True, taken)
    marital = _marital_status(rng, age)
    method, method_date, recent = _contraception(rng, birth, start, end) if marital in _IN_UNION else ("无", "", False)
    if recent and method in ("上环", "结扎"):
        rows["procedures"].append({"person_id": pid, "type": method, "date": method_date, "unit_code": unit.unit_code})
    name = _name(rng, True)
    rows["women"].append({"person_id": pid, "name": name, "birth_date": birth.isoformat(),
                          "unit_code": unit.unit_code,
                          "household_no": f"{unit.unit_code[-6:]}{int(rng.integers(1, n_households + 1)):04d}",
                          "marital_status": marital, "contraception": method,
                          "contraception_date": method_date})
    if marital in _IN_UNION and 20 <= age <= 42 and rng.random() < 0.09:
        rows["births"].append(_registered_birth(rng, unit.unit_code, pid, name, start, end))
    if marital in _IN_UNION and rng.random() < 0.01:
        rows["procedures"].append({"person_id": pid, "type": str(rng.choice(["取环", "补救措施"])),
                                   "date": _date_between(rng, start, end).isoformat(),
                                   "unit_code": unit.unit_code})
    if age >= 40 and rng.random() < 0.05:
        rows["benefits"].append({"person_id": pid, "program": str(rng.choice(["奖励扶助", "特别扶助", "孕前优生健康检查"])),
                                 "amount": 960, "unit_code": unit.unit_code})


def _numbered(rows: list[dict], column: str, prefix: str) -> pd.DataFrame:
    """The rows as a table whose first column numbers them: B0000001, B0000002, ..."""
    table = pd.DataFrame(rows)
    table.insert(0, column, [f"{prefix}{i:07d}" for i in range(1, len(table) + 1)])
    return table


def make_register(frame: pd.DataFrame, seed: str, start: dt.date, end: dt.date) -> dict[str, pd.DataFrame]:
    rng = demo_rng(seed, "register")
    taken: set[str] = set()
    rows: dict[str, list] = {"women": [], "births": [], "procedures": [], "benefits": []}
    for unit in frame.itertuples():
        n_households = max(1, int(unit.wcba * 0.8))
        for _ in range(unit.wcba):
            _register_woman(rng, unit, n_households, start, end, taken, rows)
    births_df = _numbered(rows["births"], "birth_id", "B")
    return {"women": pd.DataFrame(rows["women"]), "births": births_df.drop(columns="mother_name"),
            "procedures": _numbered(rows["procedures"], "procedure_id", "P"),
            "benefits": _numbered(rows["benefits"], "benefit_id", "Z"),
            "_mother_names": births_df[["birth_id", "mother_name"]], "_taken_ids": taken}


def _witnesses(rng: np.random.Generator) -> tuple[int, str]:
    """Most planted errors are confirmed (3+ witnesses, verified); some are not."""
    w = int(rng.choice([0, 1, 2, 3, 4, 5, 6], p=[0.05, 0.08, 0.12, 0.35, 0.2, 0.12, 0.08]))
    return w, "是" if rng.random() < 0.88 else "否"


def _error_fields(rng: np.random.Generator) -> dict:
    w, v = _witnesses(rng)
    return {"witnesses": w, "verified": v}


def _in_period(dates: pd.Series, start: dt.date, end: dt.date) -> pd.Series:
    return dates.map(lambda d: start.isoformat() <= d <= end.isoformat())


def _women_checks(rng: np.random.Generator, women: pd.DataFrame) -> list[dict]:
    """A few women are not found, moved away or died; a few use another method than registered."""
    out = []
    for w in women.itertuples():
        r = rng.random()
        result = "查无此人" if r < 0.015 else "迁出" if r < 0.03 else "死亡" if r < 0.033 else "属实"
        actual = w.contraception
        if result == "属实" and rng.random() < 0.02:
            actual = str(rng.choice(["上环", "结扎", "药具", "无"]))
        row = {"person_id": w.person_id, "unit_code": w.unit_code, "result": result,
               "actual_contraception": actual if result == "属实" else "", "witnesses": "", "verified": ""}
        if result == "查无此人":
            row.update(_error_fields(rng))
        out.append(row)
    return out


def _births_checks(rng: np.random.Generator, births: pd.DataFrame) -> list[dict]:
    """3 % of births are invented, 4 % misreported (wrong sex or parity)."""
    out = []
    for b in births.itertuples():
        r = rng.random()
        row = {"birth_id": b.birth_id, "unit_code": b.unit_code, "result": "属实", "true_sex": "",
               "true_birth_date": "", "true_parity": "", "witnesses": "", "verified": ""}
        if r < 0.03:
            row.update(result="虚报", **_error_fields(rng))
        elif r < 0.07:
            row.update(result="错报", **_error_fields(rng))
            if rng.random() < 0.5:
                row["true_sex"] = "女" if b.sex == "男" else "男"
            else:
                row["true_parity"] = int(b.parity) + 1
        out.append(row)
    return out


def _procedures_checks(rng: np.random.Generator, procs: pd.DataFrame) -> list[dict]:
    out = []
    for p in procs.itertuples():
        r = rng.random()
        row = {"procedure_id": p.procedure_id, "unit_code": p.unit_code, "result": "属实", "true_type": "",
               "witnesses": "", "verified": ""}
        if r < 0.04:
            row.update(result="虚报", **_error_fields(rng))
        elif r < 0.06:
            row.update(result="错报", true_type="取环" if p.type == "上环" else "上环", **_error_fields(rng))
        out.append(row)
    return out


def _benefits_checks(rng: np.random.Generator, benefits: pd.DataFrame) -> list[dict]:
    out = []
    for z in benefits.itertuples():
        r = rng.random()
        row = {"benefit_id": z.benefit_id, "unit_code": z.unit_code, "result": "属实", "witnesses": "",
               "verified": ""}
        if r < 0.04:
            row.update(result=str(rng.choice(["资格不符", "发放不符"])), **_error_fields(rng))
        out.append(row)
    return out


def _missed_birth(rng: np.random.Generator, unit_code: str, mothers: pd.DataFrame, start: dt.date, end: dt.date) -> dict:
    """A birth the register lacks; mostly to a registered married woman of the unit, else to an unknown one."""
    female = rng.random() < 1 / 2.12
    row = {"unit_code": unit_code, "mother_id": "", "mother_name": "",
           "child_name": "", "sex": "女" if female else "男",
           "birth_date": _date_between(rng, start, end).isoformat(),
           "parity": int(rng.choice([1, 2, 3], p=[0.45, 0.45, 0.1])), "policy": "政策内",
           **_error_fields(rng)}
    if not mothers.empty and rng.random() < 0.8:
        m = mothers.iloc[int(rng.integers(0, len(mothers)))]
        row.update(mother_id=m.person_id, mother_name=m["name"])
    else:
        row["mother_name"] = _name(rng, True)
    row["child_name"] = row["mother_name"][0] + _name(rng, female)[1:]
    if row["parity"] >= 3:
        row["policy"] = "政策外"
    return row


def _missed_woman(rng: np.random.Generator, unit_code: str, start: dt.date, end: dt.date, taken: set[str]) -> dict:
    birth = _date_between(rng, dt.date(start.year - 45, 1, 1), dt.date(end.year - 20, 1, 1))
    return {"unit_code": unit_code, "person_id": _person_id(rng, birth, True, taken),
            "name": _name(rng, True), "birth_date": birth.isoformat(),
            "marital_status": "初婚", "contraception": str(rng.choice(["上环", "药具", "无"])),
            **_error_fields(rng)}


def make_truth(frame: pd.DataFrame, register: dict, seed: str, start: dt.date,
               end: dt.date) -> dict[str, pd.DataFrame]:
    """What a team would find in each unit, keyed by register ids (never shown to the tool)."""
    # One generator, drawn from in this order: women, births, procedures, benefits, then unit by unit the missed rows.
    rng = demo_rng(seed, "truth")
    out: dict[str, list] = {"women_check": _women_checks(rng, register["women"])}
    births, procs = register["births"], register["procedures"]
    out["births_check"] = _births_checks(rng, births[_in_period(births.birth_date, start, end)])
    out["procedures_check"] = _procedures_checks(rng, procs[_in_period(procs.date, start, end)])
    out["benefits_check"] = _benefits_checks(rng, register["benefits"])
    out["missed_births"], out["missed_women"] = [], []
    women = register["women"]
    married = women[women.marital_status.isin(_IN_UNION)]
    taken = register["_taken_ids"]
    for unit in frame.itertuples():
        for _ in range(int(rng.poisson(0.45))):
            out["missed_births"].append(_missed_birth(rng, unit.unit_code, married[married.unit_code == unit.unit_code],
                                                      start, end))
        for _ in range(int(rng.poisson(0.35))):
            out["missed_women"].append(_missed_woman(rng, unit.unit_code, start, end, taken))
    return {k: pd.DataFrame(v) for k, v in out.items()}


def make_teams(frame: pd.DataFrame, seed: str, n_teams: int = 14, size: int = 6) -> pd.DataFrame:
    rng = demo_rng(seed, "teams")
    codes = sorted(frame.township_code.unique())
    rows = []
    for i in range(1, n_teams + 1):
        people = [_name(rng, rng.random() < 0.4) for _ in range(size)]
        homes = sorted({str(rng.choice(codes)) for _ in range(int(rng.choice([0, 1, 2], p=[0.3, 0.5, 0.2])))})
        rows.append({"team_id": f"{i:02d}", "leader": people[0], "members": ";".join(people[1:]),
                     "home_townships": ";".join(homes)})
    return pd.DataFrame(rows)


def write_county(out: Path, seed: str, start: dt.date, end: dt.date) -> dict[str, Path]:
    """Write frame.csv, teams.csv, register/ and truth/ under `out`; returns their paths."""
    out = Path(out)
    (out / "register").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    frame = make_frame(seed)
    register = make_register(frame, seed, start, end)
    truth = make_truth(frame, register, seed, start, end)
    frame.to_csv(out / "frame.csv", index=False, encoding="utf-8")
    make_teams(frame, seed).to_csv(out / "teams.csv", index=False, encoding="utf-8")
    for stem in ("women", "births", "procedures", "benefits"):
        register[stem].to_csv(out / "register" / f"{stem}.csv", index=False, encoding="utf-8")
    for key, table in truth.items():
        table.to_csv(out / "truth" / f"{key}.csv", index=False, encoding="utf-8")
    return {"frame": out / "frame.csv", "teams": out / "teams.csv", "register": out / "register",
            "truth": out / "truth"}
