"""The commands of instruments as data (issue 18): `instrument list|export|add` and `export`, and what `ingest`,
`forms` and `scan` print about a round's own instruments.  Registered on the CLI group by `register`
(cli.py passes its Chinese click classes in, so this module does not import cli.py); imports nothing heavy."""

from __future__ import annotations

from pathlib import Path

import click

from chouyang import steps

_WORDS = {"new": "已录入", "unchanged": "内容相同，未改变", "replaced": "已替换"}


def echo_instrument_results(results) -> None:
    """One line per response of a round's own instrument that `ingest` stored (or found unchanged)."""
    for r in results:
        sub = f"，提交 {r.submission}" if r.submission else ""
        click.echo(f"  {r.unit_code} 的调查表 {r.instrument}（{r.source}{sub}）：{_WORDS[r.status]}")
    if results and all(r.status == "unchanged" for r in results):
        click.echo("  全部与已录入的内容相同：数据库未改变。")


def ingest_with_instruments(rnd, paths: list[Path], instrument: str | None, replace: bool) -> list:
    """`chouyang ingest`: phone CSVs of `instrument`, or workbooks of every kind; prints the responses of the
    round's own instruments and returns the other results (survey and checklist workbooks) for cli.ingest."""
    if instrument is not None:
        echo_instrument_results(steps.ingest_submissions(rnd, paths, instrument, replace=replace))
        return []
    results = steps.ingest(rnd, paths, replace=replace)
    echo_instrument_results([r for r in results if r.kind == "instrument"])
    return [r for r in results if r.kind != "instrument"]


def echo_instrument_forms(summary: dict) -> None:
    for name, done in summary.get("instruments", {}).items():
        click.echo(f"  调查表 {name}：{done['units']} 个样本点，{done['pages']} 页（forms/<代码>.{name}.pdf，"
                   f"录入工作簿 entry/<代码>.{name}.xlsx）")


def echo_instrument_scan(summary) -> None:
    for name, units in getattr(summary, "instruments", {}).items():
        pages = sum(u["pages"] for u in units.values())
        review = sum(u["review"] for u in units.values())
        click.echo(f"  调查表 {name}：{len(units)} 个样本点 {pages} 页，需人工核对 {review} 处"
                   f"（scan/<代码>.{name}.xlsx，清单和截图在 scan/review/{name}）")
        for unit, u in units.items():
            if u["missing"]:
                click.echo(f"    {unit} 缺少第 {'、'.join(map(str, u['missing']))} 页")


def register(cli, argument_class, group_class, round_argument, help_option) -> None:
    """Add `instrument` (list, export, add) and `export` to the root group `cli`."""

    @cli.group(cls=group_class,
               help="调查表（问卷）：列出、导出为 XLSForm（可在 Excel 中修改、用于 ODK/KoboToolbox 手机采集）、导入本轮。")
    @help_option
    def instrument() -> None:
        """Instruments of the package and of a round."""

    @instrument.command("list", help="列出调查表：名称、标题、表单代码、填写单位、字段数、来源（内置 / 本轮次）。")
    @click.argument("round_dir", metavar="[ROUND]", required=False, cls=argument_class,
                    type=click.Path(file_okay=False, path_type=Path),
                    help="考核轮次文件夹；给出时列出本轮的调查表（含本轮导入的），否则列出内置调查表。")
    @help_option
    def instrument_list(round_dir: Path | None) -> None:
        rnd = steps.open_round(round_dir) if round_dir is not None else None
        click.echo("名称\t标题\t代码\t填写单位\t字段数\t来源")
        for i in steps.instrument_list(rnd):
            click.echo(f"{i.name}\t{i.title}\t{i.code}\t{i.per}\t{i.fields}\t{i.source}")

    @instrument.command("export", help="把调查表写成 XLSForm（survey、choices、settings 三个工作表，中文标签），"
                                       "可用 pyxform 转为 XForm，供 ODK Collect / KoboToolbox 使用。")
    @click.argument("name", metavar="NAME", cls=argument_class, help="调查表名称（见 chouyang instrument list）。")
    @click.argument("out", metavar="OUT.xlsx", cls=argument_class, type=click.Path(dir_okay=False, path_type=Path),
                    help="要写出的 XLSForm 文件（.xlsx）。")
    @click.option("--round", "round_dir", metavar="ROUND", default=None, type=click.Path(file_okay=False, path_type=Path),
                  help="考核轮次文件夹：导出本轮的调查表（本轮导入的，或按本轮考核方案生成的综合治理清单）。")
    @help_option
    def instrument_export(name: str, out: Path, round_dir: Path | None) -> None:
        rnd = steps.open_round(round_dir) if round_dir is not None else None
        inst = steps.instrument_export(name, out, rnd)
        click.echo(f"已把调查表 {inst.name}（{inst.title}）写成 XLSForm：{out}")

    @instrument.command("add", help="把 XLSForm（.xlsx，如在 Excel 或 KoboToolbox 中设计的问卷）导入本轮，须在抽样之前；"
                                    "之后 forms 为每个样本点打印，ingest 录入工作簿或手机提交的 CSV。")
    @round_argument
    @click.argument("file", metavar="FILE.xlsx", cls=argument_class, type=click.Path(dir_okay=False, path_type=Path),
                    help="要导入的 XLSForm 文件（settings 工作表的 form_id 即调查表名称）。")
    @help_option
    def instrument_add(round_dir: Path, file: Path) -> None:
        added = steps.instrument_add(steps.open_round(round_dir), file)
        inst = added.instrument
        fields = sum(f.type != "note" for f in inst.fields())
        click.echo(f"已导入调查表 {inst.name}（{inst.title}，代码 {inst.code}，{fields} 个字段）：{added.path}")
        if added.commitment_stale:
            click.echo("  注意：本轮已发布过承诺指纹，调查表也计入指纹，原指纹已失效。请重新运行 chouyang commit 并重新公布。")

    @cli.command("export", help="把已录入的结果按调查表导出为 CSV：DIR/<调查表名称>.csv（UTF-8 带 BOM，"
                                "每份回答一行，每个字段一列，选项用代码）。")
    @round_argument
    @click.option("--instrument", "name", metavar="NAME", default=None, help="只导出这一个调查表（默认：每个有结果的调查表）。")
    @click.option("--out", metavar="DIR", default=None, type=click.Path(file_okay=False, path_type=Path),
                  help="输出文件夹（默认：ROUND/export/）。")
    @help_option
    def export(round_dir: Path, name: str | None, out: Path | None) -> None:
        done = steps.export(steps.open_round(round_dir), name, out)
        for e in done:
            click.echo(f"  {e.path}：{e.rows} 行")
        click.echo(f"已导出 {len(done)} 个调查表。" if done else "还没有录入任何结果，没有导出文件。")
