"""The command line. ``main()`` is the one error boundary of the program."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from qwen_cli.errors import EXIT_INTERRUPTED, EXIT_USAGE, QwenAPIError, Terminated, UsageError


def _utf8_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(encoding="utf-8", errors="replace")
            except (ValueError, OSError):  # pragma: no cover - detached or exotic streams
                pass


def _undecodable(args: list[str]) -> UsageError | None:
    """An argument that is not valid UTF-8 (Python keeps its bytes as lone surrogates, which
    could be neither sent nor stored): refused before anything runs."""
    for i, arg in enumerate(args, 1):
        if any("\udc80" <= ch <= "\udcff" for ch in arg):
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            return UsageError(
                f"argument {i} is not valid UTF-8: {shown}",
                hint="qwen reads its arguments as UTF-8; check the encoding of the terminal or "
                "script (LANG, LC_ALL), or pipe the text on stdin, which is read leniently",
            )
    return None


def main(argv: list[str] | None = None) -> int:
    """Run ``qwen``; return its exit code. ``--debug`` adds the traceback.

    After SIGTERM or SIGHUP (handled like Ctrl-C: the partial answer is kept) the exit code
    is 128 + the signal's number, whatever the command went on to return.
    """
    from qwen_cli.cli import signals

    with signals.handled():
        try:
            code = _main(argv)
        except KeyboardInterrupt:  # a signal before the command's own boundary (while importing)
            code = EXIT_INTERRUPTED
        signum = signals.received()
    return code if signum is None else 128 + signum


def _main(argv: list[str] | None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args or os.environ.get("QWEN_DEBUG") == "1"
    _utf8_streams()
    bad = _undecodable(args)
    if bad is not None:
        from qwen_cli.cli.report import say_error

        say_error(bad)
        return EXIT_USAGE
    import typer

    from qwen_cli.cli.app import build, route
    from qwen_cli.cli.options import option_argv, search_argv

    try:
        args = option_argv(route(search_argv(args)))
    except UsageError as err:
        from qwen_cli.cli.report import say_error

        say_error(err)
        return EXIT_USAGE
    command = build()
    try:
        rv = command.main(args=args, prog_name="qwen", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except typer.Exit as e:
        return int(e.exit_code or 0)
    except typer.TyperException as e:  # usage errors from the option parser
        from qwen_cli.cli.report import from_parser, say_error, wants_json

        if type(e).__name__ == "NoArgsIsHelpError":  # a bare `qwen`, `qwen auth`: the help
            getattr(e, "show", lambda: None)()
            return EXIT_USAGE
        ctx = getattr(e, "ctx", None)
        takes_json = ctx is None or any("--json" in getattr(p, "opts", ()) for p in ctx.command.params)
        say_error(from_parser(e), json_out=takes_json and wants_json(args))
        return EXIT_USAGE if e.exit_code == 2 else int(e.exit_code)
    except (typer.Abort, KeyboardInterrupt) as exc:
        sys.stderr.write("\nqwen: terminated\n" if isinstance(exc, Terminated) else "\nqwen: interrupted\n")
        return EXIT_INTERRUPTED
    except QwenAPIError as err:
        from qwen_cli.cli.report import say_error, wants_json

        say_error(err, debug=debug, json_out=wants_json(args))
        return err.exit_code
    except BrokenPipeError:
        # The reader went away (`qwen complete ... | head -1`): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def main_exit() -> None:
    """Console-script entry point: run, then end the process without the interpreter's teardown."""
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` now, skipping the interpreter's teardown.

    Freeing the few hundred modules a command loaded costs about 0.15 s of CPU on every run
    (a third of a short `qwen complete`), and buys nothing: every file a command writes is closed
    by then, and the store commits as it goes. What teardown would still do is done here: open
    stores are closed (their WAL folded back into the database), the standard streams are
    flushed and the atexit functions run (logging's flush). While another non-daemon thread
    runs, the normal exit is taken, which waits for it.
    """
    import atexit
    import threading

    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon and t.is_alive() for t in threading.enumerate()):
        sys.exit(code)
    store = sys.modules.get("qwen_cli.store.db")
    if store is not None:  # as the connections' finalizers would have
        store.close_all()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader gone, or a stream closed: nothing more to write
            pass
    atexit._run_exitfuncs()
    os._exit(code)
