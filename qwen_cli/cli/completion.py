"""Shell completion: value callbacks for options, and the scripts in ``completions/``.

The scripts are typer's (``qwen --show-completion``): each asks ``qwen`` itself what
to complete, through ``_QWEN_COMPLETE``, so subcommands and options always match
the installed version, and the callbacks below add model names, regions,
providers and conversation ids. Callbacks run on every Tab: they import lazily,
never touch the network, and return ``[]`` rather than fail.
"""

from __future__ import annotations

from pathlib import Path

PROG = "qwen"
COMPLETE_VAR = "_QWEN_COMPLETE"
FILES = {"bash": "qwen.bash", "zsh": "_qwen", "fish": "qwen.fish"}
INSTALL = {
    "bash": "source it from ~/.bashrc, or copy it to ~/.local/share/bash-completion/completions/qwen",
    "zsh": "source it from ~/.zshrc after `autoload -Uz compinit && compinit`",
    "fish": "copy it to ~/.config/fish/completions/qwen.fish",
}


def complete_model(incomplete: str) -> list[tuple[str, str]]:
    """Aliases, catalogue models, then any other model seen in a cached `qwen models` list."""
    try:
        from qwen_cli import aliases, catalog, config, modelcache

        out = [
            (name, f"alias for {model}")
            for name, model in aliases.load(config.config_dir()).items()
            if name.startswith(incomplete)
        ]
        ids = catalog.names()
        ids += [i for i in modelcache.all_cached_ids(config.cache_dir()) if i not in set(ids)]
        for name in ids:
            if name.startswith(incomplete):
                spec = catalog.lookup(name)
                out.append((name, ", ".join(spec.capabilities) if spec.known else "not in the catalogue"))
        return out
    except Exception:
        return []


def complete_region(incomplete: str) -> list[tuple[str, str]]:
    from qwen_cli.providers.dashscope import REGION_NAMES

    return [(r, name) for r, name in REGION_NAMES.items() if r.startswith(incomplete)]


def complete_provider(incomplete: str) -> list[str]:
    from qwen_cli.providers import PROVIDERS

    return [p for p in PROVIDERS if p.startswith(incomplete)]


def complete_conversation(incomplete: str) -> list[tuple[str, str]]:
    """Conversation ids for ``--resume``, newest first, read read-only from the store's database."""
    try:
        from qwen_cli.store.db import default_path

        return _ids_from_db(default_path(), incomplete)
    except Exception:  # a completion must never fail the shell
        return []


def _ids_from_db(path: Path | None, incomplete: str, limit: int = 50) -> list[tuple[str, str]]:
    if path is None or not path.is_file():
        return []
    import sqlite3

    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=0.5)
    try:
        cols = {row[1] for row in con.execute("PRAGMA table_info(conversations)")}
        if "id" not in cols:
            return []
        title = "title" if "title" in cols else "''"
        rows = con.execute(
            f"SELECT id, {title} FROM conversations WHERE CAST(id AS TEXT) LIKE ? || '%' "
            "ORDER BY rowid DESC LIMIT ?",
            (incomplete, limit),
        ).fetchall()
    finally:
        con.close()
    return [(str(i), str(t or "")) for i, t in rows]


def script(shell: str) -> str:
    """The completion script for ``shell``, as stored in ``completions/``."""
    from typer._completion_shared import get_completion_script

    body = get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell)
    comment = "\n".join(
        [
            f"# {shell} completion for qwen, generated from its typer app (`qwen --show-completion`);",
            "# regenerate with `python completions/generate.py`, a test checks it is current.",
            f"# Install: {INSTALL[shell]}.",
        ]
    )
    first, _, rest = body.partition("\n")
    if first.startswith("#compdef"):  # zsh wants it on the first line
        return f"{first}\n{comment}\n{rest}\n"
    return f"{comment}\n{body}\n"
