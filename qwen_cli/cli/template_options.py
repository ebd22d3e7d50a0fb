"""``--template NAME`` (``-T``), ``-p name=value`` and ``--save NAME``: templates on complete, chat
and upload --ask. A template fills only what the command line left unset: explicit options win."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from qwen_cli import structs
from qwen_cli.cli.options import SAMPLING
from qwen_cli.errors import UsageError
from qwen_cli.structs import field, struct

if TYPE_CHECKING:
    from qwen_cli.cli.options import Ask
    from qwen_cli.templates import Template


def complete_template(incomplete: str) -> list[tuple[str, str]]:
    """Template names for Tab, with their descriptions."""
    try:
        from qwen_cli import config, templates

        cdir = config.config_dir()
        out = []
        for name, builtin in templates.names(cdir).items():
            if name.startswith(incomplete):
                try:
                    about = templates.find(name, cdir).description
                except Exception:
                    about = "(cannot be read)"
                out.append((name, about + (" [built-in]" if builtin else "")))
        return out
    except Exception:  # a completion must never fail the shell
        return []


def _params(values: Optional[list[str]]) -> Optional[list[str]]:
    parse_params(values)
    return values


TemplateName = Annotated[
    Optional[str],
    typer.Option(
        "--template",
        "-T",
        metavar="NAME",
        help="Use a template: its system prompt, prompt, model and options, yours winning "
        "(qwen templates list).",
        autocompletion=complete_template,
        rich_help_panel=SAMPLING,
    ),
]
Params = Annotated[
    Optional[list[str]],
    typer.Option(
        "--param",
        "-p",
        metavar="NAME=VALUE",
        help="A value for the template's $NAME (repeatable), e.g. -p lang=French.",
        callback=_params,
        rich_help_panel=SAMPLING,
    ),
]
Save = Annotated[
    Optional[str],
    typer.Option(
        "--save",
        metavar="NAME",
        help="Save this command's prompt and options as template NAME (stdin becomes $input) "
        "instead of asking.",
        rich_help_panel=SAMPLING,
    ),
]


def parse_params(values: Optional[list[str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values or ():
        name, eq, value = v.partition("=")
        if not eq or not name.strip().isidentifier():
            raise UsageError(
                f"-p takes NAME=VALUE, got {v!r}",
                hint="e.g. -p lang=French (one -p per variable; quote values with spaces)",
            )
        out[name.strip()] = value
    return out


@struct
class Applied:
    """A template applied to a command's options; ``template`` None when none was asked for."""

    template: Template | None = None
    params: dict[str, str] = field(default_factory=dict)
    # shell, code, extract, schema: as if their flags had been given (their modes read them)
    modes: dict[str, Any] = field(default_factory=dict)

    def message(self, text: str | None) -> str | None:
        """What to send for the user's ``text``: the template's prompt around it."""
        if self.template is None:
            return text
        return self.template.render_prompt(text or None, self.params)


def _unset(ask: Ask, key: str) -> bool:
    """The command line left ``key`` as it was (``--search`` is off unless given: no --no-search)."""
    value = getattr(ask, key)
    return value is None or (value is False and key == "search")


def apply(ask: Ask, name: Optional[str], params: Optional[list[str]]) -> tuple[Ask, Applied]:
    """``ask`` with the template's values where the command line gave none."""
    values = parse_params(params)
    if name is None:
        if values:
            raise UsageError(
                "-p gives a template's variables, and no --template was given", hint="add --template NAME"
            )
        return ask, Applied()
    from qwen_cli import config, templates

    tpl = templates.find(name, config.config_dir())
    fill: dict[str, Any] = {}
    for key, value in tpl.options().items():
        if _unset(ask, key):
            fill[key] = tpl.render_system(values) if key == "system" else value
    unused = [p for p in values if p not in tpl.variables()]
    if unused:
        raise UsageError(
            f"template {tpl.name!r} has no variable {', '.join('$' + p for p in unused)}",
            hint=f"its variables: {', '.join('$' + v for v in tpl.variables()) or 'none'}",
        )
    return structs.replace(ask, **fill), Applied(tpl, values, tpl.modes())


def save(
    name: str, ask: Ask, prompt: Optional[str], template: Optional[str], params: Optional[list[str]]
) -> None:
    """``--save NAME``: this command's prompt and options as a new template; nothing is asked."""
    import sys

    from qwen_cli import config, templates
    from qwen_cli.cli import options as o
    from qwen_cli.cli.report import notice

    templates.check_name(name)
    cdir = config.config_dir()
    values: dict[str, Any] = {}
    if template is not None:
        values = {k: v for k, v in templates.find(template, cdir).values.items() if k != "description"}
    piped = prompt == "-" or (not sys.stdin.isatty() and bool(o.stdin_text().strip()))
    if prompt == "-":
        values["prompt"] = "$input"
    elif prompt is not None:
        values["prompt"] = prompt + ("\n\n$input" if piped else "")  # its $names: variables
    elif piped:
        values["prompt"] = "$input"
    for key in templates.OPTIONS:
        given = getattr(ask, key)
        if not _unset(ask, key):
            values[key] = given
    if params:
        values["defaults"] = {**values.get("defaults", {}), **parse_params(params)}
    path = templates.save(name, cdir, values)
    notice(f"saved template {name!r} to {path}: qwen complete --template {name} ...", color=False)
