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
