"""`qwen templates`: list, show, edit and remove templates (roles)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from qwen_cli.cli.template_options import complete_template
from qwen_cli.errors import ConfigError, UsageError

app = typer.Typer(
    name="templates",
    no_args_is_help=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

Name = Annotated[
    str, typer.Argument(metavar="NAME", help="The template's name.", autocompletion=complete_template)
]


def _out(text: str) -> None:
    from qwen_cli.safetext import shown

    sys.stdout.write(shown(text, sys.stdout))


def _cdir() -> Path:
    from qwen_cli import config

    return config.config_dir()


@app.callback(invoke_without_command=True)
def templates_(ctx: typer.Context) -> None:
    """List, show, edit and remove templates: a system prompt, a prompt and options, by name.

    Use one with qwen complete --template NAME (or -T NAME), qwen chat -T NAME,
    qwen upload FILE -T NAME --ask ...; give its $variables with -p name=value.

    Examples:

      qwen templates list

      qwen templates edit review

      git diff --cached | qwen complete --template commit
    """
    if ctx.invoked_subcommand is None:
        list_()


@app.command("list")
def list_() -> None:
    """List the templates: name, model, built-in or yours, description."""
    from qwen_cli import templates

    cdir = _cdir()
    rows: list[tuple[str, str, str, str]] = []
    for name, builtin in templates.names(cdir).items():
        try:
            tpl = templates.find(name, cdir)
            desc, model = tpl.description, tpl.model or "-"
        except ConfigError as err:
            desc, model = f"(broken: {err.message})", "-"
        rows.append((name, model, "built-in" if builtin else "yours", desc))
    if rows:
        from qwen_cli.cli.tables import print_table

        # one line a template; the description gives way, then the model (the one table rule)
        print_table(("NAME", "MODEL", "FROM", "DESCRIPTION"), rows, wide=3, drop=(1,))
    if not rows and sys.stdout.isatty():
        sys.stderr.write("no templates: create one with `qwen templates edit NAME`\n")


@app.command("show")
def show(name: Name) -> None:
    """Print a template's file, and say where it is."""
    from qwen_cli import templates

    tpl = templates.find(name, _cdir())
    sys.stderr.write(f"# {tpl.path}{' (built-in)' if tpl.builtin else ''}\n")
    _out(tpl.path.read_text(encoding="utf-8"))


@app.command("edit")
def edit(name: Name) -> None:
    """Open a template in $VISUAL or $EDITOR, creating it from a commented skeleton.

    A built-in template is copied to your own, which then shadows it. The file is
    checked when the editor closes: a broken one is not used; on a terminal you can
    open it again, otherwise your text is kept next to it as NAME.toml.rejected.
    """
    from qwen_cli import templates

    cdir = _cdir()
    path = templates.user_path(name, cdir)
    builtin = templates.builtin_path(name)
    if path.is_file():
        before = path.read_text(encoding="utf-8")
    elif builtin is not None:
        before = builtin.read_text(encoding="utf-8")
    else:
        before = templates.SKELETON.format(name=name)
    editor = _editor()
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.editing")
    rejected = path.with_name(f"{path.name}.rejected")
    draft.write_text(before, encoding="utf-8")
    try:
        while True:
            _run_editor(editor, draft)
            text = draft.read_text(encoding="utf-8")
            if text == before and not path.is_file():
                sys.stderr.write(f"template {name!r} unchanged: not created\n")
                return
            try:
                templates.parse(text, path)
            except ConfigError as err:
                if sys.stdin.isatty() and sys.stderr.isatty():
                    sys.stderr.write(f"qwen: error: {err.message}\n")
                    if typer.confirm("open it again?", default=True, err=True):
                        continue
                rejected.write_text(text, encoding="utf-8")
                kept = "kept as it was" if path.is_file() else "not created"
                raise err.evolve(
                    hint=f"the template is {kept}; your text is in {rejected}: fix it and "
                    f"run `qwen templates edit {name}` again"
                ) from err
            if text == (path.read_text(encoding="utf-8") if path.is_file() else None):
                sys.stderr.write(f"template {name!r} unchanged\n")
                return
            os.replace(draft, path)
            rejected.unlink(missing_ok=True)
            sys.stderr.write(f"saved template {name!r} to {path}\n")
            return
    finally:
        draft.unlink(missing_ok=True)


def _editor() -> list[str]:
    import shlex

    command = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not command:
        raise UsageError(
            "no editor: neither VISUAL nor EDITOR is set",
            hint="set one, e.g. EDITOR=nano qwen templates edit NAME",
        )
    return shlex.split(command)


def _run_editor(editor: list[str], path: Path) -> None:
    import subprocess

    try:
        code = subprocess.call([*editor, str(path)])
    except OSError as exc:
        raise UsageError(
            f"cannot run the editor {editor[0]!r}: {exc.strerror or exc}",
            hint="check VISUAL / EDITOR",
        ) from exc
    if code != 0:
        raise UsageError(
            f"the editor {editor[0]!r} exited with status {code}: the template is unchanged",
            hint="save and quit the editor normally to keep your changes",
        )


@app.command("rm")
def rm(name: Name) -> None:
    """Remove one of your templates (a built-in one cannot be removed)."""
    from qwen_cli import templates

    path = templates.user_path(name, _cdir())
    builtin = templates.builtin_path(name) is not None
    if not path.is_file():
        if builtin:
            raise UsageError(
                f"{name!r} is a built-in template: it cannot be removed",
                hint=f"`qwen templates edit {name}` makes your own copy, which takes its place",
            )
        templates.find(name, _cdir())  # raises, listing close names
    path.unlink()
    back = f"; the built-in {name!r} is in use again" if builtin else ""
    sys.stderr.write(f"removed template {name!r} ({path}){back}\n")
