"""The thin command layer: parse arguments, call a stage, print a Chinese summary.

Help texts, headings and usage errors are in Chinese.  A `ChouyangError`
from any stage is printed as it is and exits with status 1; a usage error
exits with status 2.  No traceback reaches the user.  A command imports what
it needs when it runs (`steps.x` loads only x's module): --help loads no pandas.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from chouyang import __version__, steps
from chouyang.cli_instruments import echo_instrument_forms, echo_instrument_scan, ingest_with_instruments, register
from chouyang.errors import ChouyangError

_HELP_OPTION = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


_HELP_WORDS = {"[required]": "[必填]", "[default: ": "[默认：", "default: ": "默认：", "; required": "；必填",
               "required": "必填"}


def _chinese_help(text: str) -> str:
    for en, zh in _HELP_WORDS.items():
        text = text.replace(en, zh)
    return text


class ChineseArgument(click.Argument):
    """A positional argument with a description, listed under 参数 in --help."""

    def __init__(self, *args, help: str = "", **kwargs):  # noqa: A002 - click's own keyword name
        super().__init__(*args, **kwargs)
        self.help = help

    def get_help_record(self, ctx):
        return (self.make_metavar(ctx), self.help) if self.help else None


class _ChineseFormatting:
    def format_usage(self, ctx, formatter):
        formatter.write_usage(ctx.command_path, " ".join(self.collect_usage_pieces(ctx)), prefix="用法：")

    def format_arguments(self, ctx, formatter):
        """Arguments are listed by format_options under 参数 (click 8.5+ would add an English section)."""

    def format_options(self, ctx, formatter):
        params = self.get_params(ctx)
        arguments = [r for p in params if isinstance(p, click.Argument) and (r := p.get_help_record(ctx))]
        options = [(term, _chinese_help(text)) for p in params if isinstance(p, click.Option)
                   and (r := p.get_help_record(ctx)) for term, text in [r]]
        commands = self._command_rows(ctx) if isinstance(self, click.Group) else []
        for title, rows in (("参数", arguments), ("选项", options), ("命令", commands)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)

    def _command_rows(self, ctx) -> list[tuple[str, str]]:
        """A group's visible subcommands with their short help."""
        commands = [(n, c) for n in self.list_commands(ctx) if (c := self.get_command(ctx, n)) and not c.hidden]
        return [(n, c.get_short_help_str(70)) for n, c in commands]


class ChineseCommand(_ChineseFormatting, click.Command):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("options_metavar", "[选项]")
        super().__init__(*args, **kwargs)


class ChineseGroup(_ChineseFormatting, click.Group):
    command_class = ChineseCommand

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("options_metavar", "[选项]")
        kwargs.setdefault("subcommand_metavar", "命令 [参数]...")
        super().__init__(*args, **kwargs)


_round_argument = click.argument("round_dir", metavar="ROUND", cls=ChineseArgument,
                                 type=click.Path(file_okay=False, path_type=Path),
                                 help="考核轮次文件夹（chouyang init 建立，一次考核的全部内容都在里面）。")


def _help_option(f):
    return click.help_option("-h", "--help", help="显示本帮助并退出。")(f)


@click.group(cls=ChineseGroup, context_settings=_HELP_OPTION,
             help="抽样（chouyang）：人口和计划生育目标管理责任制考核的抽样调查工具。\n\n"
                  "流程：init 建轮次 → commit 公布指纹 → draw 抽样 → verify 复核 → plan 调查安排 → "
                  "forms 核查表 → ingest 录入 → status 进度 → checklist 综合治理考核清单 → score 计分、综合考核和报告。")
@click.version_option(__version__, "-V", "--version", message="chouyang %(version)s", help="显示版本号并退出。")
@_help_option
def cli() -> None:
    """Root command group."""


@cli.command(help="列出内置的规则预设。")
@_help_option
def presets() -> None:
    from chouyang.config.rules import preset_description, preset_names

    for name in preset_names():
        click.echo(f"{name:18s}{preset_description(name)}")


@cli.command(help="新建考核轮次文件夹：校验并复制输入文件（记录 SHA-256），写入规则文件 rules.toml。")
@_round_argument
@click.option("--preset", required=True, metavar="预设", help="规则预设名称（见 chouyang presets）。")
@click.option("--frame", required=True, metavar="文件", type=click.Path(dir_okay=False, path_type=Path),
              help="抽样框 frame.csv（或 .xlsx）。")
@click.option("--teams", required=True, metavar="文件", type=click.Path(dir_okay=False, path_type=Path),
              help="调查组名单 teams.csv（或 .xlsx）。")
@click.option("--register", required=True, metavar="文件夹", type=click.Path(file_okay=False, path_type=Path),
              help="全员人口信息文件夹（women、births、procedures，可选 benefits）。")
@click.option("--round-id", "round_id", metavar="编号", default=None,
              help="轮次编号（字母、数字和 . _ -，如 2017H1）：进入每一张签号、二维码和录入工作簿。"
                   "默认用轮次文件夹名；文件夹名不能用作编号时必须给出。预设从不提供编号。")
@click.option("--name", metavar="名称", default=None,
              help="轮次名称，印在核查表、行程表和报告上，如「邓州市2017年上半年人口和计划生育目标管理责任制考核」。"
                   "不给出时为占位文字，抽样前须在 rules.toml 中改好。")
@_help_option
def init(round_dir: Path, preset: str, frame: Path, teams: Path, register: Path, round_id: str | None,
         name: str | None) -> None:
    summary = steps.init(round_dir, preset, frame, teams, register, round_id=round_id, name=name)
    c = summary.counts
    click.echo(f"已创建考核轮次：{round_dir}")
    click.echo(f"  轮次编号：{summary.round_id}（进入每一张签号、二维码和录入工作簿）")
    click.echo(f"  轮次名称：{summary.name}")
    click.echo(f"  抽样框：{c['townships']} 个乡镇，{c['units']} 个村/社区；调查组 {c['teams']} 个")
    click.echo(f"  全员信息：育龄妇女 {c['women']} 人，出生 {c['births']} 例，手术 {c['procedures']} 例，"
               f"资格 {c['benefits']} 条")
    click.echo("  文件编码：" + "，".join(f"{k} {v}" for k, v in summary.encodings.items()))
    for w in summary.warnings[:20]:
        click.echo(f"  警告：{w}")
    if len(summary.warnings) > 20:
        click.echo(f"  ……另有 {len(summary.warnings) - 20} 条警告，见日志")
    click.echo(f"规则已写入 {round_dir / 'rules.toml'}，抽样前可按需修改。")
    if name is None:
        click.echo("  注意：轮次名称还是占位文字。请在 rules.toml 的 [round] name 中填写正式名称，"
                   "否则 commit、draw 会拒绝运行（抽样后规则锁定，名称无法再改）。")


@cli.command(help="在确定随机种子之前，公布本轮输入文件和规则的指纹（防止看到种子后再改数据）。")
@_round_argument
@_help_option
def commit(round_dir: Path) -> None:
    record = steps.commit(steps.open_round(round_dir))
    click.echo("请在确定随机种子之前公布以下指纹：")
    click.echo(f"  {record['fingerprint']}")
    click.echo(f"  （时间 {record['time_utc']}，已保存到 {round_dir / 'commit.json'}）")


@cli.command(help="用公开的随机种子抽取样本点，写出 sample.csv 和 draw.json。")
@_round_argument
@click.option("--seed", required=True, metavar="种子", help="随机种子（文本），如公开的彩票开奖号码或现场掷骰结果。")
@click.option("--previous", multiple=True, metavar="文件", type=click.Path(dir_okay=False, path_type=Path),
              help="往轮的 sample.csv（可多次给出，按时间先后），用于避免重复抽到同一样本点。")
@click.option("--force", is_flag=True, help="本轮已抽样时强制重抽（旧记录保留在日志中）。")
@_help_option
def draw(round_dir: Path, seed: str, previous: tuple[Path, ...], force: bool) -> None:
    record = steps.draw(steps.open_round(round_dir), seed, list(previous), force)
    c = record["counts"]
    click.echo(f"抽样完成：{c['townships']} 个乡镇，样本点 {c['primary']} 个，备选 {c['reserve']} 个")
    click.echo(f"  轮次编号：{record['round_id']}；随机种子：{record['seed']}")
    click.echo(f"  签号 = SHA-256(种子|{record['round_id']}|村/社区代码)")
    click.echo(f"  结果：{round_dir / 'sample.csv'}；记录：{round_dir / 'draw.json'}")
    for code, notes in record["township_notes"].items():
        click.echo(f"  {code}：{'；'.join(notes)}")
    if not record["commitment"]:
        click.echo("  注意：抽样前未发布承诺指纹（chouyang commit），他人无法确认数据未在抽样后改动。")


@cli.command(help="按 draw.json 重新计算样本（和调查安排），完全一致时退出码为 0。")
@_round_argument
@_help_option
def verify(round_dir: Path) -> None:
    result = steps.verify(steps.open_round(round_dir))
    click.echo(f"轮次编号：{result.round_id}；随机种子：{result.seed}")
    for message in result.messages:
        click.echo(f"  {message}")
    for problem in result.problems:
        click.echo(f"  不一致：{problem}")
    if not result.ok:
        raise ChouyangError("复核失败：" + "；".join(result.problems))
    click.echo("复核通过。")


@cli.command(help="用本乡镇的下一个备选样本点替换一个样本点（如村庄被淹），记录原因。")
@_round_argument
@click.argument("unit_code", metavar="UNIT_CODE", cls=ChineseArgument, help="要替换的样本点（村/社区）的 12 位代码。")
@click.option("--reason", required=True, metavar="原因", help="替换原因（写入日志和 sample.csv）。")
@_help_option
def replace(round_dir: Path, unit_code: str, reason: str) -> None:
    rep = steps.replace(steps.open_round(round_dir), unit_code, reason)
    click.echo(f"已用备选样本点 {rep['replacement']} 替换 {rep['unit_code']}（原因：{rep['reason']}）")


@cli.command(help="把样本点分配给调查组和日期，写出 plan.csv 和每组一页的行程表 plan.pdf。")
@_round_argument
@_help_option
def plan(round_dir: Path) -> None:
    table = steps.plan(steps.open_round(round_dir))
    click.echo(f"调查安排完成：{len(table)} 个样本点，{table.team_id.nunique()} 个调查组，"
               f"{table.date.nunique()} 天")
    click.echo(f"  {round_dir / 'plan.csv'}；行程表 {round_dir / 'plan.pdf'}")


@cli.command(help="为每个样本点生成核查表 PDF（带二维码）和录入工作簿：forms/<代码>.pdf、entry/<代码>.xlsx。")
@_round_argument
@click.option("--workers", type=click.IntRange(1, 64), default=None, metavar="进程数",
              help="并行进程数（默认：CPU 核数，最多 4）。")
@_help_option
def forms(round_dir: Path, workers: int | None) -> None:
    rnd = steps.open_round(round_dir)
    if not rnd.plan_path.exists():
        click.echo("注意：尚未生成调查安排（chouyang plan），封面上的调查组和日期将显示为「未安排」。")
    with _units_bar("生成核查表") as bar:
        summary = steps.forms(rnd, progress=bar, workers=workers)
    click.echo(f"已生成 {summary['units']} 个样本点的核查表，共 {summary['pages']} 页：")
    click.echo(f"  PDF：{round_dir / 'forms'}；录入工作簿：{round_dir / 'entry'}")
    echo_instrument_forms(summary)


@cli.command(help="录入现场核查结果：已填写的录入工作簿（.xlsx）或同样表头的 CSV 文件夹。全部校验通过才入库。")
@_round_argument
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, cls=ChineseArgument,
                type=click.Path(exists=True, path_type=Path),
                help="已填写的录入工作簿（.xlsx），或与工作簿同样表头的 CSV 文件夹；可以给出多个。")
@click.option("--replace", is_flag=True, help="已录入过的样本点用新内容替换（新旧值记入日志）。")
@click.option("--instrument", metavar="NAME", default=None,
              help="PATH 是本轮调查表 NAME 的手机提交数据（ODK Central 或 KoboToolbox 导出的 CSV），按 unit_code 对应样本点。")
@_help_option
def ingest(round_dir: Path, paths: tuple[Path, ...], replace: bool, instrument: str | None) -> None:
    results = ingest_with_instruments(steps.open_round(round_dir), list(paths), instrument, replace)
    words = {"new": "已录入", "unchanged": "内容相同，未改动", "replaced": "已替换"}
    for r in results:
        if r.kind == "checklist":
            click.echo(f"  乡镇 {r.unit_code} 的考核清单（{r.source}）：{words[r.status]}")
            continue
        extra = f"，改动 {r.changes} 行" if r.status == "replaced" else ""
        click.echo(f"  {r.unit_code}（{r.source}）：{words[r.status]}{extra}；确认误差 {r.confirmed} 例，"
                   f"待核实 {r.pending} 例")
        for w in r.warnings:
            click.echo(f"    警告：{w}")
    units = sum(r.kind == "survey" for r in results)
    towns = len(results) - units
    if results:
        click.echo("完成：" + "，".join(part for part in (f"{units} 个样本点" if units else "",
                                                         f"{towns} 个乡镇的考核清单" if towns else "") if part) + "。")


@cli.command(help="查看各调查组、各乡镇的样本点录入进度和误差个案数。")
@_round_argument
@click.option("--strict", is_flag=True, help="仍有样本点未录入时以非 0 状态退出。")
@_help_option
def status(round_dir: Path, strict: bool) -> None:
    table = steps.status(steps.open_round(round_dir))
    for team, group in table.groupby("team_id", sort=True):
        click.echo(f"调查组 {team or '（未安排）'}：")
        for r in group.itertuples():
            state = "已录入" if r.entered else "未录入"
            click.echo(f"  {r.township_name} {r.unit_name}（{r.unit_code}）{state}"
                       + (f"：确认 {r.confirmed} 例，待核实 {r.pending} 例" if r.entered else ""))
    missing = int((~table.entered).sum())
    click.echo(f"合计：{len(table)} 个样本点，已录入 {len(table) - missing} 个，未录入 {missing} 个；"
               f"确认误差 {int(table.confirmed.sum())} 例，待核实 {int(table.pending.sum())} 例。")
    if strict and missing:
        raise ChouyangError(f"还有 {missing} 个样本点未录入结果")


@cli.command(help="计算误差率、扣分、修正指标、全县估计和排名，写出 report/ 下的 CSV、Excel 和 PDF 报告。")
@_round_argument
@click.option("--partial", is_flag=True, help="仍有样本点未录入时也先计算（报告注明未录入的样本点）。")
@click.option("--previous", metavar="上一轮次", default=None, type=click.Path(exists=True, path_type=Path),
              help="上一年度的轮次文件夹（或其 report/composite.csv），用于「连续两年」的考核结果升级。")
@_help_option
def score(round_dir: Path, partial: bool, previous: Path | None) -> None:
    result = steps.score(steps.open_round(round_dir), partial, previous)
    t = result.townships
    click.echo(f"计分完成：{len(t)} 个乡镇，确认误差 {int(t.cases_confirmed.sum())} 例，"
               f"待核实 {int(t.cases_pending.sum())} 例，扣分合计 {t.deduction.sum():g} 分")
    click.echo("  " + steps.county_summary_line(result))
    if result.missing_units:
        click.echo(f"  注意：{len(result.missing_units)} 个样本点未录入，未计入：{'、'.join(result.missing_units)}")
    if result.assessment is not None:
        a = result.assessment.townships
        click.echo(f"  综合考核：{len(a)} 个乡镇，第 1 名 {a.township_name.iloc[0]}（{a.total.iloc[0]:g} 分），"
                   f"最后一名 {a.township_name.iloc[-1]}（{a.total.iloc[-1]:g} 分）")
        for label, n in result.assessment.consequences.groupby("label", sort=False).size().items():
            click.echo(f"    {label}：{n} 个")
    elif result.assessment_note:
        click.echo(f"  注意：{result.assessment_note}")
    click.echo(f"  报告：{round_dir / 'report'}（cases.csv、townships.csv、county.csv、report.xlsx、report.pdf）")


@cli.command(help="为每个乡镇生成综合治理考核清单：打印用的 checklist/<乡镇代码>.pdf"
                  "（带二维码和勾选框，填好后可用 chouyang scan 识别）和录入工作簿 checklist/<乡镇代码>.xlsx"
                  "（含须查看的材料和计分规则），填好后用 chouyang ingest 录入。")
@_round_argument
@_help_option
def checklist(round_dir: Path) -> None:
    from tqdm import tqdm

    rnd = steps.open_round(round_dir)
    with tqdm(desc="生成考核清单", unit="个乡镇", disable=None) as bar:
        summary = steps.checklist(rnd, progress=bar.update)
    click.echo(f"已生成 {summary['townships']} 个乡镇的考核清单（考核方案「{summary['scheme']}」，"
               f"{'半年' if summary['period'] == 'half' else '全年'}考核）：{round_dir / 'checklist'}，"
               f"打印用 PDF 共 {summary['pages']} 页，另有录入工作簿")
    click.echo("纸质清单填好后用 chouyang scan 识别；工作簿填好后用 chouyang ingest 录入（可与核查结果工作簿一起录入）。")


@cli.command(help="识别扫描或拍照的已填写核查表和考核清单（PDF、PNG、JPG、TIFF，可以混在一起），生成录入工作簿和待人工核对清单。")
@_round_argument
@click.argument("files", metavar="FILES...", nargs=-1, required=True, cls=ChineseArgument,
                type=click.Path(exists=True, path_type=Path),
                help="扫描或拍照得到的文件（PDF、PNG、JPG、TIFF），或装有这些文件的文件夹；可以给出多个。")
@click.option("--workers", type=click.IntRange(1, 64), default=None, metavar="进程数", help="并行进程数（默认：CPU 核数，最多 4）。")
@_help_option
def scan(round_dir: Path, files: tuple[Path, ...], workers: int | None) -> None:
    from tqdm import tqdm

    paths = []
    for f in files:
        paths += sorted(p for p in f.iterdir() if p.suffix.lower() in (".pdf", ".png", ".jpg", ".jpeg", ".tif",
                                                                      ".tiff")) if f.is_dir() else [f]
    with tqdm(desc="识别扫描页", unit="页", disable=None) as bar:
        summary = steps.scan(steps.open_round(round_dir), paths, progress=bar.update, workers=workers)
    found = sum(summary.units.values()) + sum(summary.checklists.values())
    click.echo(f"共 {summary.pages} 页：识别 {found} 页，涉及 {len(summary.units)} 个样本点"
               + (f"、{len(summary.checklists)} 个乡镇的考核清单。" if summary.checklists else "。"))
    for *_, text in summary.rejected:
        click.echo(f"  {text}")
    for source, index, what in summary.duplicates:
        click.echo(f"  {source} 第 {index} 页：与另一份扫描重复（{what}），已保留较清晰的一份")
    for unit, pages in summary.missing.items():
        if pages:
            what = f"乡镇 {unit} 的考核清单" if unit in summary.checklists else f"{unit} "
            click.echo(f"  {what}缺少第 {'、'.join(map(str, pages))} 页")
    items = sum(summary.review.values())
    if summary.units or not summary.checklists:
        click.echo(f"录入工作簿：{round_dir / 'scan'}；需人工核对 {items} 处（清单和截图在 {round_dir / 'scan' / 'review'}）。")
    if summary.checklists:
        folder = round_dir / "scan" / "checklist"
        click.echo(f"考核清单工作簿：{folder}；需人工核对 {sum(summary.checklist_review.values())} 处"
                   f"（清单和截图在 {folder / 'review'}）。")
    echo_instrument_scan(summary)
    click.echo("核对并改正后，用 chouyang ingest 录入这些工作簿。")


@cli.command(help="在浏览器中办理本轮：进度、扫描核对、双人录入、个案反馈与异议、计分与报告。默认只允许本机访问。")
@_round_argument
@click.option("--host", default="127.0.0.1", show_default=True, metavar="地址",
              help="监听地址。本机以外的地址（如 0.0.0.0）须先用 chouyang user add 建立用户账户。")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, metavar="端口", help="端口。")
@click.option("--open", "open_browser", is_flag=True, help="启动后用默认浏览器打开。")
@_help_option
def serve(round_dir: Path, host: str, port: int, open_browser: bool) -> None:
    from chouyang.serve import run

    run(round_dir, host, port, open_browser, echo=click.echo)


@cli.group(cls=ChineseGroup, help="管理 chouyang serve 的用户账户（密码以 argon2 散列保存）。")
@_help_option
def user() -> None:
    """User accounts of the web workstation."""


@user.command("add", help="新建用户（密码输入两次，至少 8 个字符）；--replace 为已有用户重设密码。")
@_round_argument
@click.argument("name", metavar="NAME", cls=ChineseArgument, help="用户名（登录网页工作台时使用，写入审计日志）。")
@click.option("--replace", is_flag=True, help="用户已存在时重设其密码。")
@_help_option
def user_add(round_dir: Path, name: str, replace: bool) -> None:
    rnd = steps.open_round(round_dir)
    password = click.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")
    outcome = steps.add_user(rnd, name, password, replace)
    click.echo(f"用户 {name.strip()} {'已建立' if outcome == 'added' else '的密码已重设'}。")


@user.command("list", help="列出本轮的用户。")
@_round_argument
@_help_option
def user_list(round_dir: Path) -> None:
    names = steps.users(steps.open_round(round_dir))
    click.echo("\n".join(names) if names else "本轮还没有用户账户。")


@cli.command(help="改变一个误差个案的反馈状态：现场反馈 → 有异议 → 复核 → 确认/撤销（撤销的个案不计分）。")
@_round_argument
@click.argument("unit_code", metavar="UNIT_CODE", cls=ChineseArgument, help="个案所在样本点（村/社区）的 12 位代码。")
@click.argument("ref", metavar="REF", cls=ChineseArgument,
                help="个案编号（报告 cases.csv 的 ref 列，如 B001；新发现的行为 MB001、MW001）。")
@click.option("--status", required=True, metavar="状态", help="新状态：有异议、复核、确认 或 撤销。")
@click.option("--comment", default="", metavar="说明", help="说明（有异议、撤销和重新复核时必填）。")
@_help_option
def case(round_dir: Path, unit_code: str, ref: str, status: str, comment: str) -> None:
    change = steps.set_case_status(steps.open_round(round_dir), unit_code, ref, status, comment)
    click.echo(f"个案 {unit_code} {ref}：{change['old']} → {change['new']}")


class _units_bar:
    """A tqdm bar counting units; called with each unit's page count."""

    def __init__(self, desc: str):
        self.desc = desc

    def __enter__(self):
        from tqdm import tqdm

        self.bar = tqdm(desc=self.desc, unit="个样本点", disable=None)
        self.pages = 0
        return self

    def __call__(self, pages: int) -> None:
        self.pages += pages
        self.bar.update(1)
        self.bar.set_postfix_str(f"{self.pages} 页")

    def __exit__(self, *exc):
        self.bar.close()
        return False


@cli.command(help="在内置示范县（邓州市27个乡镇街道及杏山）上运行全部步骤。")
@click.argument("out", metavar="OUT", cls=ChineseArgument, type=click.Path(file_okay=False, path_type=Path),
                help="输出文件夹（新的或空的；示范县数据、轮次文件夹和报告都写在里面）。")
@click.option("--seed", default="2016-07-25 福彩3D 2016199期 528", show_default=True, metavar="种子",
              help="抽样随机种子（示范县的数据也由它生成）。")
@click.option("--scan", "with_scan", is_flag=True,
              help="同时演示纸质路径：模拟填写并扫描核查表 → 识别 → 人工核对 → 录入 → 计分，并核对扣分与键盘录入一致。")
@_help_option
def demo(out: Path, seed: str, with_scan: bool) -> None:
    from chouyang.demo.county import run_demo

    summary = run_demo(out, seed, echo=click.echo, scan=with_scan)
    click.echo("")
    click.echo("示范运行完成：")
    for line in summary:
        click.echo(f"  {line}")


register(cli, ChineseArgument, ChineseGroup, _round_argument, _help_option)

_USAGE_TEXT = {
    "Missing argument": "缺少参数",
    "Missing option": "缺少选项",
    "No such option": "没有这个选项",
    "No such command": "没有这个命令",
    "Invalid value for": "参数值无效：",
    "Got unexpected extra argument": "多余的参数",
    "Got unexpected extra arguments": "多余的参数",
    "requires an argument": "需要一个值",
    "does not exist": "不存在",
    "is a directory": "是文件夹",
    "is a file": "是文件",
    "Did you mean": "您是否想输入",
}


def _chinese_usage(message: str) -> str:
    for en, zh in _USAGE_TEXT.items():
        message = message.replace(en, zh)
    return message


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit status instead of raising."""
    try:
        cli.main(args=argv, prog_name="chouyang", standalone_mode=False)
    except ChouyangError as exc:
        click.echo(f"错误：{exc}", err=True)
        return 1
    except click.exceptions.Abort:
        click.echo("已中止。", err=True)
        return 1
    except click.UsageError as exc:
        hint = f"（运行 {exc.ctx.command_path} --help 查看用法）" if exc.ctx else ""
        click.echo(f"用法错误：{_chinese_usage(exc.format_message())}{hint}", err=True)
        return 2
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("已中断。", err=True)
        return 130
    except OSError as exc:  # a file the user named cannot be read or written
        click.echo(f"错误：无法读写文件 {exc.filename or ''}：{exc.strerror or exc}", err=True)
        return 1
    except Exception as exc:  # a defect of ours: say so plainly, still without a traceback
        click.echo(f"内部错误（{type(exc).__name__}：{exc}）。已有数据未被改动；请把这条信息和所用命令报告给开发者。"
                   "设置环境变量 CHOUYANG_DEBUG=1 可查看详细信息。", err=True)
        if os.environ.get("CHOUYANG_DEBUG"):
            raise
        return 3
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
