"""A batch of scan files: every page read in worker processes, then sorted into the pages kept per unit
(the clearer of two scans of one page) and those set aside, with the reason in Chinese."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chouyang.pool import map_in_workers
from chouyang.scan.pages import PageRead, UnreadableFile, load_pages, read_page

PROBLEM_TEXT = {"unreadable": "找不到或读不出二维码（已另存，待人工指定样本点）",
                "foreign_round": "其他轮次的页面", "forged": "二维码校验失败（页面被改动或伪造）",
                "unknown_unit": "本轮没有这个样本点的核查表（或核查表已重新生成）",
                "no_marks": "无法定位页面：四角定位标记和表格都找不准（已另存，请重新扫描）",
                "bad_file": "文件无法读取"}


def problem_text(source: str, index: int, problem: str, detail: str = "") -> str:
    where = source if problem == "bad_file" else f"{source} 第 {index} 页"
    return f"{where}：{detail or PROBLEM_TEXT[problem]}"


_WORKER: dict = {}


def _read_file(path: str) -> list[PageRead]:
    """Worker: every page of one file, read; images dropped (reloaded later for crops)."""
    out = []
    try:
        for page in load_pages(Path(path)):
            read = read_page(page, _WORKER["secret"], _WORKER["round_id"], _WORKER["layouts"])
            read.path = path
            if read.problem in ("unreadable", "no_marks"):
                folder = Path(_WORKER["unassigned"])
                folder.mkdir(parents=True, exist_ok=True)
                page.image.save(folder / f"{Path(path).stem}_p{page.index}.png")
            read.image = None
            out.append(read)
    except UnreadableFile as exc:
        out.append(PageRead(Path(path).name, 0, problem="bad_file", detail=str(exc), path=path))
    return out


def _init_reader(state: dict) -> None:
    _WORKER.update(state)


def read_files(files, secret: bytes, round_id: str, layouts: dict, unassigned: Path, progress=None,
               workers: int | None = None) -> list[PageRead]:
    """Every page of every file, read in worker processes (pool.py); in input order.

    Pages without a readable QR code or corner marks are saved to `unassigned`; a file that is not
    a readable PDF or image gives one read with problem "bad_file" and the batch goes on.
    """
    paths = [str(f) for f in files]
    state = {"secret": secret, "round_id": round_id, "layouts": layouts, "unassigned": str(unassigned)}
    reads: list[PageRead] = []
    for batch in map_in_workers(_read_file, paths, _init_reader, (state,), 1 if len(paths) < 4 else workers):
        if progress:
            progress(len(batch))
        reads.extend(batch)
    return reads


@dataclass
class ScanSummary:
    pages: int
    units: dict[str, int]                     # unit -> pages used
    rejected: list[tuple[str, int, str, str]]  # (file, page, problem code, Chinese text)
    duplicates: list[tuple[str, int, str]]    # (file, page, "unit i/n") dropped as the worse scan
    missing: dict[str, list[int]]             # unit -> missing page numbers
    review: dict[str, int]                    # unit -> review items
    marks: int = 0                            # tick boxes read
    checklists: dict[str, int] = field(default_factory=dict)        # township -> checklist pages used
    checklist_review: dict[str, int] = field(default_factory=dict)  # township -> review items


@dataclass
class PagePick:
    """The pages kept per unit (the clearer of duplicates), and what was set aside."""

    units: dict[str, list[PageRead]]
    rejected: list[tuple[str, int, str, str]]
    duplicates: list[tuple[str, int, str]]

    def missing(self) -> dict[str, list[int]]:
        return {unit: [i for i in range(1, reads[0].page_id.pages + 1) if i not in {r.page_id.page for r in reads}]
                for unit, reads in self.units.items()}


def pick_pages(reads: list[PageRead]) -> PagePick:
    """Group identified pages by unit; of two scans of one page keep the clearer one."""
    best: dict[tuple[str, int], PageRead] = {}
    rejected, duplicates = [], []
    for read in reads:
        if read.problem:
            rejected.append((read.source, read.index, read.problem,
                             problem_text(read.source, read.index, read.problem, read.detail)))
            continue
        key = (read.page_id.unit_code, read.page_id.page)
        if key in best:
            worse = min(best[key], read, key=lambda r: r.quality)
            duplicates.append((worse.source, worse.index, f"{key[0]} 第{key[1]}页"))
            if worse is best[key]:
                best[key] = read
        else:
            best[key] = read
    units: dict[str, list[PageRead]] = {}
    for (unit, _), read in sorted(best.items()):
        units.setdefault(unit, []).append(read)
    return PagePick(units, rejected, duplicates)
