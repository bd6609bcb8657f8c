"""Scan reading on a large corpus of hand-filled, degraded pages: accuracy, review load, speed.

Takes the demo county's forms (runs `chouyang demo` first unless --demo is given), fills
pages with random answers by many writers (chouyang.scansim: ticks, checks, crosses,
slashes, circles, pencil, blue ink, overshooting and off-centre marks, corrections,
handwriting in write-ins), and puts half through a flatbed scanner (150-300 dpi, +-3
degrees, scale +-3 %, glass crop, JPEG 60-90) and half through a phone camera
(perspective, shadow, uneven light, blur, turned 0/90/180/270, JPEG).  Every page is
then read and compared box by box with the truth.

Prints, per kind of page and in total (the targets of issue 11):
- pages identified;
- decisive fields (result, witnesses, verified, true sex/parity/type, policy) with a mark,
  and silent errors among them: a value written to the workbook without review that
  differs from what was marked (target <= 0.1 %, and 0 in >= 5,000 marks);
- plain 属实 rows (属实 ticked, nothing else) sent to review (targets 5 % flatbed, 10 % photo);
- reading speed in pages per CPU-second on 200-dpi flatbed scans (target >= 5; reading
  only, the page already decoded from JPEG).

The corpus takes far longer to make than to read: `--corpus DIR` keeps it (the page as
the reader gets it, PNG, with its answers and truth) and reads it again from there next time,
so a change to the reader can be measured on exactly the same pages.

Usage:  python benchmarks/scan.py [--pages 500] [--demo DIR] [--seed 1] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import json
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from chouyang.demo import scansim
from chouyang.render.pdf import full_font
from chouyang.round.folder import Round
from chouyang.scan.pages import PageImage, load_layouts, read_page
from chouyang.scan.rows import interpret_row


def corpus_page(rnd, layouts, units, kind, rng, writers, font):
    unit = units[int(rng.integers(len(units)))]
    i = int(rng.integers(len(layouts[unit]["pages"])))
    page = layouts[unit]["pages"][i]
    dpi = float(rng.choice([150, 200, 250, 300])) if kind == "flatbed" else float(rng.uniform(180, 230))
    img = scansim.render_page(rnd.path / "forms" / f"{unit}.pdf", i, dpi, "RGB")
    answers = scansim.random_answers(page, rng)
    writer = writers[int(rng.integers(len(writers)))]
    truth = scansim.fill_page(img, page, answers, dpi, rng, writer, font.path, font.collection_index)
    out = scansim.flatbed(img, dpi, rng) if kind == "flatbed" else scansim.photo(img, rng)
    return out.convert("L"), answers, truth, dpi


def corpus(args, rnd, layouts, kind):
    """(image, answers, truth, dpi) of every page of one kind, made now or read from --corpus."""
    folder = args.corpus / kind if args.corpus else None
    meta = {"seed": args.seed, "pages": args.pages // 2, "demo": str(args.demo)}
    if folder and (folder / "meta.json").exists() and json.loads((folder / "meta.json").read_text()) == meta:
        for i in range(meta["pages"]):
            with open(folder / f"{i:04d}.pkl", "rb") as f:
                answers, truth, dpi = pickle.load(f)
            yield Image.open(folder / f"{i:04d}.png").convert("L"), answers, truth, dpi
        return
    rng = np.random.default_rng([args.seed, kind == "photo"])
    writers = [scansim.random_writer(rng) for _ in range(60)]
    font = full_font()
    units = sorted(layouts)
    if folder:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "meta.json").unlink(missing_ok=True)
    for i in range(meta["pages"]):
        page = corpus_page(rnd, layouts, units, kind, rng, writers, font)
        if folder:
            page[0].save(folder / f"{i:04d}.png", compress_level=1)
            with open(folder / f"{i:04d}.pkl", "wb") as f:
                pickle.dump(page[1:], f)
        yield page
    if folder:
        (folder / "meta.json").write_text(json.dumps(meta))


def evaluate(read, answers, truth, counts) -> None:
    for row in read.rows:
        key = (row["section"], row["ref"] or row["blank_index"])
        values, issues = interpret_row(row)
        if row["ref"] and scansim.is_plain(answers.get(key, {})):
            counts["plain"] += 1
            counts["plain_review"] += bool(issues)
        for fkey, f in row["fields"].items():
            if f.kind != "ticks":
                continue
            expected = scansim.truth_value(truth[key][fkey], f.options)
            counts["boxes"] += len(f.states)
            counts["box_wrong"] += sum(a != b for a, b in zip(f.states, truth[key][fkey]))
            if fkey not in scansim.DECISIVE:
                continue
            counts["decisive"] += expected != ""
            if not issues and values.get(fkey, "") != expected:
                counts["silent"] += 1
                print(f"  静默错误：第 {counts['pages']} 页 {key} {fkey} 读作 {values.get(fkey)!r}，应为 {expected!r}，{f.states}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=500, help="pages in total, half flatbed, half photos")
    parser.add_argument("--demo", type=Path, default=None, help="a finished `chouyang demo` output folder")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--corpus", type=Path, default=None, help="folder keeping the generated pages")
    parser.add_argument("--kind", choices=("flatbed", "photo"), action="append",
                        help="only these kinds of page (default: both)")
    args = parser.parse_args()
    if args.demo is None:
        from chouyang.cli import main as cli

        args.demo = Path(tempfile.mkdtemp(prefix="chouyang-bench-")) / "demo"
        cli(["demo", str(args.demo)])
    rnd = Round.open(args.demo / "round")
    layouts = load_layouts(rnd.forms_dir)
    secret, round_id = rnd.secret(), rnd.rules().round.id
    totals = {}
    speed = [0, 0.0]  # 200-dpi flatbed pages, CPU seconds
    for kind in args.kind or ("flatbed", "photo"):
        counts = dict.fromkeys(("pages", "identified", "boxes", "box_wrong", "decisive", "silent", "plain",
                                "plain_review"), 0)
        made = time.perf_counter()
        cpu = 0.0
        for img, answers, truth, dpi in corpus(args, rnd, layouts, kind):
            start = time.process_time()
            read = read_page(PageImage("bench", 1, img), secret, round_id, layouts)
            spent = time.process_time() - start
            cpu += spent
            if kind == "flatbed" and dpi == 200:
                speed[0] += 1
                speed[1] += spent
            counts["pages"] += 1
            if read.problem:
                print(f"  未识别的页：第 {counts['pages']} 页 {read.problem}")
                continue
            counts["identified"] += 1
            evaluate(read, answers, truth, counts)
        totals[kind] = counts
        c = counts
        print(f"{'平板扫描' if kind == 'flatbed' else '手机拍照'}：{c['pages']} 页，识别 {c['identified']} 页；"
              f"勾选框 {c['boxes']} 个，状态读错 {c['box_wrong']} 个（均送人工核对或不影响结果）；"
              f"关键栏目有勾选 {c['decisive']} 处，静默错误 {c['silent']} 处"
              f"（{c['silent'] / max(c['decisive'], 1):.3%}）；"
              f"纯「属实」行 {c['plain']} 行，送人工核对 {c['plain_review']} 行"
              f"（{c['plain_review'] / max(c['plain'], 1):.1%}）；"
              f"识别 CPU {cpu / max(c['pages'], 1):.3f} 秒/页（生成用时共 {time.perf_counter() - made:.0f} 秒）")
    decisive = sum(c["decisive"] for c in totals.values())
    silent = sum(c["silent"] for c in totals.values())
    print(f"合计：关键栏目有勾选 {decisive} 处，静默错误 {silent} 处（{silent / max(decisive, 1):.3%}）；"
          f"页面识别 {sum(c['identified'] for c in totals.values())}/{sum(c['pages'] for c in totals.values())}")
    if speed[0]:
        print(f"速度：200 dpi 平板扫描 {speed[0]} 页，每核每秒 {speed[0] / speed[1]:.1f} 页（CPU 时间）")


if __name__ == "__main__":
    main()
