"""The command table: `qwen --help` lists every command without building any."""

from __future__ import annotations

import subprocess
import sys

import pytest

from qwen_cli.cli import app


@pytest.mark.parametrize("name", list(app.COMMANDS))
def test_summary_matches_the_commands_own_help(name: str) -> None:
    assert app.load_command(name).get_short_help_str(limit=300) == app.SUMMARIES[name]


def test_every_command_has_a_summary() -> None:
    assert list(app.SUMMARIES) == list(app.COMMANDS)


def test_root_help_lists_every_command_and_builds_none() -> None:
    code = (
        "import contextlib, io, sys\n"
        "from qwen_cli.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    rc = main(['--help'])\n"
        "names = " + repr(list(app.COMMANDS)) + "\n"
        "built = [m for m in sys.modules if m.startswith('qwen_cli.cli.') and m.rsplit('.', 1)[1] in names]\n"
        "print(rc, built)\n"
        "print(' '.join(out.getvalue().split()))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    status, text = p.stdout.split("\n", 1)
    assert status == "0 []", p.stderr
    for name, summary in app.SUMMARIES.items():
        assert f" {name} {summary}" in text


def test_unknown_command_is_a_usage_error(run_cli) -> None:
    # `qwen bogus` is now a bare prompt (tests/test_cli_start.py); a group's subcommands are not.
    r = run_cli("history", "bogus")
    assert r.code == 2 and "No such command 'bogus'" in r.err


GROUPS = [name for name, (_, _, group) in app.COMMANDS.items() if group]


def _help(cmd: object, name: str, width: int) -> str:
    from typer import Context

    ctx = Context(cmd, info_name=f"qwen {name}", terminal_width=width, max_content_width=width)  # type: ignore[arg-type]
    return ctx.get_help()


@pytest.mark.parametrize("name", GROUPS)
@pytest.mark.parametrize("width", [50, 100])
def test_group_help_is_typers_without_building_a_subcommand(name: str, width: int) -> None:
    """`qwen batch --help` lists the subcommands, with the help typer would show for each,
    built from nothing but their docstrings."""
    import importlib

    import typer

    module, attr, _ = app.COMMANDS[name]
    typers = typer.main.get_command(getattr(importlib.import_module(module), attr))
    lazy = app.load_command(name)
    assert _help(lazy, name, width) == _help(typers, name, width)
    assert dict(lazy.commands) == {}  # listed, none built
    assert lazy.list_commands(None) == list(typers.commands)


def test_a_group_builds_only_the_subcommand_that_runs(run_cli) -> None:
    lazy = app.load_command("batch")
    run = lazy.get_command(None, "run")
    assert run.name == "run" and "--concurrency" in {o for p in run.params for o in p.opts}
    assert list(lazy.commands) == ["run"]
    assert lazy.get_command(None, "run") is run and lazy.get_command(None, "nope") is None


@pytest.mark.parametrize(
    ("args", "meant"),
    [(("batch", "rnu"), "'run'"), (("history", "shwo"), "'show'"), (("auth", "lgoin"), "'login'")],
)
def test_a_mistyped_subcommand_is_told_the_closest(run_cli, args: tuple[str, str], meant: str) -> None:
    r = run_cli(*args)
    assert (r.code, r.out) == (2, "")
    assert r.err.splitlines() == [
        f"qwen: error: No such command {args[1]!r}. Did you mean {meant}?",
        f"hint: `qwen {args[0]} --help` lists what it takes",
    ]


def test_a_subcommand_runs_with_its_options_checked(run_cli) -> None:
    r = run_cli("batch", "list", "--limit", "0")
    assert r.code == 2 and r.out == ""
    assert r.err.splitlines()[0] == "qwen: error: --limit must be between 1 and 1000 (got 0)"


@pytest.mark.parametrize("name", ["chat", "complete"])
def test_a_command_built_reading_its_signature_once_is_typers(name: str) -> None:
    """load_command lets typer read a signature once (signatures_read_once): the options and
    what the callback passes on are those of typer's own build, and typer is left as it was."""
    import importlib

    import typer

    real = typer.main.get_params_from_function
    module, attr, _ = app.COMMANDS[name]
    single = typer.Typer(rich_markup_mode=None)
    single.command(name=name)(getattr(importlib.import_module(module), attr))
    typers = typer.main.get_command(single)
    ours = app.load_command(name)
    assert typer.main.get_params_from_function is real

    def shape(cmd: object) -> list[tuple[object, ...]]:
        return [(p.name, p.opts, p.default, p.required, p.multiple) for p in cmd.params]  # type: ignore[attr-defined]

    assert shape(ours) == shape(typers) and len(ours.params) > 20
