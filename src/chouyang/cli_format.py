"""Chinese help for click: headings, usage, argument help and the words click adds ([required], default)."""

from __future__ import annotations

import click

HELP_OPTION = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

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
