"""chouyang serve under load: concurrent clerks posting keyed entries and review decisions on localhost.

Copies the demo round (a finished `chouyang demo` folder, or makes one), gives every
sample point a scan review list, starts `chouyang serve` on 127.0.0.1 in its own
process, and runs N clients (threads, one session each) for a bounded time.  Client
i keys its own pass of the points i, i+N, …, saving drafts, and decides the review
items of the same points (one item per point is left open, so no workbook is
ingested mid-run).  Every request carries a unique request id.

Printed: requests/s, median and p95 latency per kind; then the check that no write
was lost or duplicated: every request the server answered with success appears
exactly once in the audit log, no failed request left a log row, and the store holds
exactly what the last logged write of each pass / item says.

Usage:  python benchmarks/serve.py [--clients 20] [--duration 60] [--demo DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx

from chouyang import vocab
from chouyang.entry import keyed
from chouyang.round.folder import Round
from chouyang.scan import review
from chouyang.serve import workstation

MAX_REQUESTS_PER_CLIENT = 100_000  # a bound besides the duration
ITEMS_PER_UNIT = 4
RESULTS = vocab.WOMAN_RESULTS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(demo: Path, work: Path) -> tuple[Round, list[str]]:
    """The demo round copied, with a review list of ITEMS_PER_UNIT women rows per primary point."""
    shutil.copytree(demo / "round", work / "round")
    rnd = Round(work / "round")
    units = list(rnd.primaries().unit_code)
    folder = rnd.scan_dir / "review"
    folder.mkdir(parents=True, exist_ok=True)
    options = [{"label": r, "value": r} for r in RESULTS]
    for unit, checklist in rnd.checklists(units).items():
        shutil.copyfile(rnd.entry_dir / f"{unit}.xlsx", rnd.scan_dir / f"{unit}.xlsx")
        refs = list(checklist.sections["women_check"].ref)[:ITEMS_PER_UNIT]
        items = [{"sheet": "women_check", "workbook_row": keyed.FIRST_ROW + i, "ref": ref, "page": 2,
                  "crop": f"{ref}.png", "issues": ["标记不清"],
                  "fields": [{"key": "result", "kind": "ticks", "options": options, "value": None, "confidence": 0.5,
                              "marks": ["uncertain"] + ["empty"] * (len(options) - 1)}]}
                 for i, ref in enumerate(refs)]
        data = {"format": 1, "unit_code": unit, "items": items}
        (folder / f"{unit}.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return rnd, units


class Clerk(threading.Thread):
    def __init__(self, n: int, url: str, units: list[str], checklists: dict, items: dict):
        super().__init__(daemon=True)
        self.name_ = f"录入员{n:02d}"
        self.url, self.units, self.deadline = url, units, 0.0
        self.checklists = checklists
        self.items = {u: items[u][1:] for u in units}  # item 0 stays open: no workbook is ingested mid-run
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.ok: dict[str, dict] = {}       # request id -> what was written
        self.failed: list[str] = []
        self.errors: Counter = Counter()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60, follow_redirects=False) as client:
            token = self._login(client)
            self.ready.set()
            self.go.wait()
            n = 0
            while time.monotonic() < self.deadline and n < MAX_REQUESTS_PER_CLIENT:
                unit = self.units[n % len(self.units)]
                request = f"{self.name_}-{n}"
                if n % 2 == 0:
                    self._post(client, "keyed", f"/entry/{unit}", self._keyed_form(unit, n, token, request),
                               request, {"unit": unit})
                elif self.items[unit]:
                    item = self.items[unit][(n // 2) % len(self.items[unit])]
                    value = RESULTS[(n // 2) % 2 * 3]  # 属实 or 死亡
                    self._post(client, "review", f"/review/{unit}/{item.id}",
                               {"csrf": token, "f.result": value, "request": request}, request,
                               {"unit": unit, "item": item.id, "values": {"result": value}})
                n += 1

    def _login(self, client: httpx.Client) -> str:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        client.post("/login", data={"csrf": token, "name": self.name_, "next": "/entry"})
        return re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)

    def _keyed_form(self, unit: str, n: int, token: str, request: str) -> dict:
        form = {"csrf": token, "finish": "0", "request": request, "missed_births.rows": "0", "missed_women.rows": "0"}
        for sheet in keyed.sheets_of(self.checklists[unit]):
            if sheet in vocab.CHECK_SHEETS:
                for i in range(len(self.checklists[unit].sections[sheet])):
                    form[keyed.field_name(sheet, i, "result")] = "属实"
        form[keyed.field_name("women_check", 0, "note")] = f"第{n}次保存"
        return form

    def _post(self, client: httpx.Client, kind: str, path: str, data: dict, request: str, what: dict) -> None:
        start = time.perf_counter()
        try:
            r = client.post(path, data=data)
        except httpx.HTTPError as exc:
            self.failed.append(request)
            self.errors[type(exc).__name__] += 1
            return
        self.latency[kind].append(time.perf_counter() - start)
        if r.status_code == 303:
            self.ok[request] = {"kind": kind, **what, "form": data}
        else:
            self.failed.append(request)
            self.errors[f"HTTP {r.status_code}"] += 1


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")


def check(rnd: Round, clerks: list[Clerk]) -> dict[str, int]:
    """Lost, duplicated and phantom writes (log vs client), and store rows that differ from the last logged write."""
    log = [e for e in rnd.log_entries() if e["action"] in ("keyed_save", "review_decision")]
    logged = Counter(e["detail"].get("request") for e in log)
    ok = {req: w for c in clerks for req, w in c.ok.items()}
    failed = {req for c in clerks for req in c.failed}
    out = {"lost": sum(1 for req in ok if logged[req] == 0), "duplicated": sum(1 for req in ok if logged[req] > 1),
           "phantom": sum(1 for req in failed if logged[req] > 0)}
    last_keyed: dict[tuple, str] = {}
    last_review: dict[tuple, dict] = {}
    for e in log:  # in log order: the last write of each pass / item wins
        w = ok.get(e["detail"].get("request"))
        if w is None:
            continue
        if e["action"] == "keyed_save":
            last_keyed[(e["detail"]["unit_code"], e["user"])] = e["detail"]["content_sha256"]
        else:
            last_review[(w["unit"], w["item"])] = w["values"]
    mismatched = 0
    with rnd.store() as con:
        stored_passes = {(p.unit_code, p.clerk): workstation.content_sha256(p.data) for p in keyed.passes(con)}
        stored_decisions = review.decisions(con)
    for key, digest in last_keyed.items():
        mismatched += stored_passes.get(key) != digest
    for (unit, item), values in last_review.items():
        mismatched += stored_decisions.get(unit, {}).get(item) is None or \
            stored_decisions[unit][item].values != values
    out["store_differs"] = mismatched
    out["checked"] = len(last_keyed) + len(last_review)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--demo", type=Path, default=None, help="a finished `chouyang demo` output folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="chouyang-serve-bench-"))
    if args.demo is None:
        from chouyang.cli import main as cli

        args.demo = work / "demo"
        cli(["demo", str(args.demo)])
    rnd, units = prepare(args.demo, work)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "chouyang.cli", "serve", str(rnd.path), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/login", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("chouyang serve 没有启动") from None
                time.sleep(0.2)
        checklists = rnd.checklists(units)
        items = {u: workstation.review_items(rnd, u) for u in units}
        go = threading.Event()
        clerks = [Clerk(i, url, units[i::args.clients], checklists, items) for i in range(args.clients)
                  if units[i::args.clients]]
        for c in clerks:
            c.ready, c.go = threading.Event(), go
            c.start()
        for c in clerks:
            c.ready.wait(120)  # every clerk logged in before the clock starts
        start = time.monotonic()
        for c in clerks:
            c.deadline = start + args.duration
        go.set()
        for c in clerks:
            c.join(args.duration + 120)
        elapsed = time.monotonic() - start
    finally:
        server.terminate()
        server.wait(30)
    all_latency = [x for c in clerks for v in c.latency.values() for x in v]
    requests = sum(len(c.ok) + len(c.failed) for c in clerks)
    print(f"chouyang serve 负载：{len(clerks)} 个客户端，{elapsed:.0f} 秒，{len(units)} 个样本点（示范县），本机 127.0.0.1")
    print(f"  请求 {requests} 个（成功 {sum(len(c.ok) for c in clerks)}，失败 {sum(len(c.failed) for c in clerks)}），"
          f"{requests / elapsed:.1f} 请求/秒；延迟中位数 {pct(all_latency, 0.5):.0f} ms，p95 {pct(all_latency, 0.95):.0f} ms")
    for kind, label in (("keyed", "录入保存"), ("review", "核对决定")):
        values = [x for c in clerks for x in c.latency.get(kind, [])]
        print(f"  {label}：{len(values)} 个，中位数 {pct(values, 0.5):.0f} ms，p95 {pct(values, 0.95):.0f} ms")
    errors = sum((c.errors for c in clerks), Counter())
    if errors:
        print(f"  失败原因：{dict(errors)}")
    result = check(rnd, clerks)
    print(f"  写入核对（日志 vs 客户端 vs 数据库，{result['checked']} 个录入遍次/核对条目）：丢失 {result['lost']}，"
          f"重复 {result['duplicated']}，失败却写入 {result['phantom']}，数据库与最后一次日志不符 {result['store_differs']}")
    if not result["checked"] or any(result[k] for k in ("lost", "duplicated", "phantom", "store_differs")):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
