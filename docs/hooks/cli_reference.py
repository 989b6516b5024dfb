"""MkDocs hook: write the command-line reference from the typer app itself, so it cannot go stale.

A page holding the marker below gets, for every command and sub-command, its help text, its usage line and
a table of its arguments and options.
"""

from __future__ import annotations

from typing import Any

MARKER = "<!-- swerve-cli-reference -->"


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "&#124;")


def _rows(command: Any) -> list[str]:
    rows = []
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        is_option = param.param_type_name == "option"
        names = ", ".join(f"`{name}`" for name in [*param.opts, *getattr(param, "secondary_opts", [])])
        if not is_option:
            names = f"`{(param.metavar or param.name).strip()}`"
        default = "" if param.required or param.default in (None, [], ()) else f"`{param.default}`"
        required = "required" if param.required else default
        rows.append(f"| {names} | {_cell(getattr(param, 'help', None) or '')} | {required} |")
    return rows


def _document(command: Any, path: list[str], parent_ctx: Any, depth: int) -> list[str]:
    ctx = command.context_class(command, info_name=path[-1], parent=parent_ctx)
    name = " ".join(path)
    lines = [f"{'#' * depth} `{name}`", "", _cell(command.help or ""), ""]
    usage = " ".join([name, *command.collect_usage_pieces(ctx)])
    lines += ["```text", usage, "```", ""]
    rows = _rows(command)
    if rows:
        lines += ["| argument or option | what | default |", "|---|---|---|", *rows, ""]
    for sub_name, sub in sorted(getattr(command, "commands", {}).items()):
        lines += _document(sub, [*path, sub_name], ctx, min(depth + 1, 4))
    return lines


def reference() -> str:
    """The markdown of every command's reference."""
    import typer

    from swerve.cli.main import register_commands

    root = typer.main.get_command(register_commands())
    ctx = root.context_class(root, info_name="swerve")
    lines = []
    for name, command in sorted(root.commands.items()):
        lines += _document(command, ["swerve", name], ctx, 2)
    return "\n".join(lines)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, reference())
    return markdown
