"""`qwen upload`: ask about images and documents, or upload them and print their references."""

from __future__ import annotations

import json as jsonlib
import os
import sys
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from qwen_cli import structs
from qwen_cli.cli import options as o
from qwen_cli.cli import schema_options as so
from qwen_cli.cli import template_options as tpl
from qwen_cli.errors import EXIT_INTERRUPTED, UsageError
from qwen_cli.safetext import shown

if TYPE_CHECKING:
    from qwen_cli.attachments import Attachment, Sent, Via
    from qwen_cli.cli.progress import UploadProgress
    from qwen_cli.config import Settings
    from qwen_cli.providers.base import Capabilities
    from qwen_cli.schema import Shape
    from qwen_cli.types import FileObject
    from qwen_cli.uploads import Files

UploadModel = Annotated[
    Optional[str],
    typer.Option(
        "--model",
        "-m",
        help="Model to ask [default: qwen-vl-max for images (QWEN_VISION_MODEL), qwen-long for documents].",
        rich_help_panel=o.SAMPLING,
    ),
]
AskText = Annotated[
    Optional[str],
    typer.Option(
        "--ask",
        "-a",
        metavar="TEXT|-",
        help="Ask this about the files and stream the answer; - reads it from stdin.",
    ),
]
ViaOSS = Annotated[
    bool,
    typer.Option("--via-oss", help="Send images through DashScope's temporary upload even when small."),
]
ListFiles = Annotated[bool, typer.Option("--list", help="List the files uploaded to the Files API.")]
Delete = Annotated[
    Optional[list[str]],
    typer.Option("--delete", metavar="ID", help="Delete an uploaded file by its id (repeatable)."),
]


def upload(
    files: Annotated[
        Optional[list[str]],
        typer.Argument(
            help="Images (PNG, JPEG, WEBP, GIF, BMP, TIFF) or documents (PDF, DOCX, XLSX, EPUB, "
            "TXT, MD, CSV, JSON).",
            show_default=False,
            metavar="FILE",
        ),
    ] = None,
    ask_text: AskText = None,
    model: UploadModel = None,
    via_oss: ViaOSS = False,
    list_files: ListFiles = False,
    delete: Delete = None,
    system: o.System = None,
    temperature: o.Temperature = None,
    top_p: o.TopP = None,
    max_tokens: o.MaxTokens = None,
    seed: o.Seed = None,
    stop: o.Stop = None,
    think: o.Think = None,
    search: o.Search = False,
    json_mode: o.JsonMode = False,
    no_stream: o.NoStream = False,
    json: o.Json = False,
    quiet: o.Quiet = False,
    no_color: o.NoColor = False,
    provider: o.Provider = None,
    region: o.Region = None,
    base_url: o.BaseURL = None,
    timeout: o.Timeout = None,
    connect_timeout: o.ConnectTimeout = None,
    max_retries: o.MaxRetries = None,
    schema: so.Schema = None,
    schema_multi: so.SchemaMulti = None,
    template: tpl.TemplateName = None,
    param: tpl.Params = None,
    debug: o.Debug = False,
) -> None:
    """Ask about images and documents, or upload them and print their references.

    Images go to a vision model: inline when small, through DashScope's temporary
    upload (oss://) when large or with --via-oss. Documents go through the Files
    API and are read by qwen-long. Without --ask, each file is uploaded and its
    reference (file id or oss:// URL) printed on its own line.

    Examples:

      qwen upload photo.png --ask "what is in this picture?"

      qwen upload before.png after.png --ask "what changed?"

      qwen upload report.pdf --ask "summarize it in five bullets"

      echo "ini gambar apa?" | qwen upload photo.jpg --ask -

      qwen upload notes.md            # prints the file id

      qwen upload --list

      qwen upload --delete file-fe-123
    """
    ask = o.Ask(**{k: v for k, v in locals().items() if k in structs.field_names(o.Ask)})
    if list_files or delete:
        if files or ask_text is not None or (list_files and delete):
            raise UsageError(
                "--list and --delete go alone: no files, no --ask, not both",
                hint="run `qwen upload --list`, then `qwen upload --delete ID`",
            )
        _manage(ask, list_files, delete or [])
        return
    if not files:
        raise UsageError(
            "no files given",
            hint='qwen upload FILE... --ask "question", or qwen upload --list',
        )
    from qwen_cli import attachments

    atts = attachments.inspect_all(files)  # every file's problem, not just the first
    question = _question(ask_text) if ask_text is not None else None
    ask, applied = tpl.apply(ask, template, param)
    question = applied.message(question) if template is not None else question
    if schema is None and schema_multi is None and applied.modes.get("schema"):
        schema = str(applied.modes["schema"])
    shape = so.shape_of(schema, schema_multi, ask)
    if shape is not None and question is None:
        raise UsageError("--schema shapes an answer: it needs --ask", hint='add --ask "extract ..."')
    if question is not None and not question.strip():
        raise UsageError("the question is empty", hint='give one with --ask "..." or pipe it with --ask -')
    _run(ask, atts, question, via_oss, shape)


def _question(text: str) -> str:
    if text != "-":
        return text
    return o.stdin_text().rstrip()


def _settings(ask: o.Ask) -> Settings:
    from qwen_cli.cli import answer

    return answer.settings_for(ask)


def _capabilities(settings: Settings) -> Capabilities:
    from qwen_cli.providers import provider_class

    return provider_class(settings.provider).capabilities


def _dashscope_only(settings: Settings, what: str) -> None:
    """A Files API is needed: only some providers have one."""
    if not _capabilities(settings).files_api:
        from qwen_cli.config import account_of
        from qwen_cli.providers import PROVIDERS, provider_class

        # one name per service: both DashScope protocols are "dashscope"
        able = list(
            dict.fromkeys(account_of(p) for p in PROVIDERS if provider_class(p).capabilities.files_api)
        )
        raise UsageError(
            f"{what} works with the {' or '.join(able)} provider, not {settings.provider}",
            hint=f"use --provider {able[0]}, which has one",
        )


def _files_api(settings: Settings) -> Files:
    from qwen_cli.cli import answer

    return answer.client_for(settings).files


def _run(
    ask: o.Ask, atts: list[Attachment], question: str | None, via_oss: bool, shape: Shape | None = None
) -> None:
    from qwen_cli import attachments, catalog
    from qwen_cli.cli import answer
    from qwen_cli.cli.progress import UploadProgress

    settings = _settings(ask)
    if _capabilities(settings).web_image_upload:  # the site's own upload, not a Files API
        from qwen_cli.cli import upload_web

        if shape is not None:
            raise UsageError(
                f"--schema needs response_format, which {settings.provider} does not take",
                hint="use --provider dashscope",
            )
        upload_web.run(ask, atts, question, settings)
        return
    _dashscope_only(settings, "qwen upload")
    images = [a for a in atts if a.is_image]
    image_model = ask.model or settings.vision_model
    model = image_model if images else (ask.model or catalog.DEFAULT_DOCUMENT_MODEL)
    files_api = _files_api(settings)
    # Every check before the first byte is sent.
    if question is not None:
        attachments.check_model(model, atts, vision_model=settings.vision_model)
        files_api.plan(atts, via_oss=via_oss)
    elif images:
        attachments.check_model(image_model, images, vision_model=settings.vision_model)
        if not files_api.oss_available:
            raise UsageError(
                f"{images[0].shown}: without --ask, images are uploaded through DashScope's temporary "
                f"upload, which {settings.base_url} does not offer",
                hint='ask about it right away with --ask "...": small images then go inline',
            )
    out = answer.Output.detect(ask, settings)
    bars = UploadProgress(
        enabled=sys.stderr.isatty() and os.environ.get("TERM") != "dumb", no_color=not out.color_err
    )
    with files_api.client as client:
        if question is None:
            with bars:
                _upload_only(files_api, atts, image_model, bars, ask)
            return
        with bars:
            sent = files_api.prepare(atts, model=model, via_oss=via_oss, progress=bars.hook)
        if not ask.quiet:
            for s in sent:
                _notice_sent(s, out.color_err)
        messages, headers = attachments.compose(question, sent, system=so.system(ask.system, shape, model))
        if shape is not None:  # --schema: the checked JSON on stdout, repaired once
            result = so.run_messages(client, ask, messages, headers, model=model, out=out, shape=shape)
        else:
            req = answer.build_request(client, ask, settings, messages, model=model)
            req.headers.update(headers)
            result = answer.run(client, req, out)
    if result.error is not None:
        raise result.error
    if result.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)


def _upload_only(
    files_api: Files, atts: list[Attachment], model: str, bars: UploadProgress, ask: o.Ask
) -> None:
    """Upload each file and print its reference as soon as it has one (scripts read stdout)."""
    oss_used = False
    for att in atts:
        via: Via = "oss" if att.is_image else "file"
        sent = files_api.send(att, via, model=model, progress=bars.hook(att))
        oss_used = oss_used or via == "oss"
        line = jsonlib.dumps({**sent.record(), "reference": sent.reference}) if ask.json else sent.reference
        sys.stdout.write(shown(line + "\n", sys.stdout, json=ask.json))
        sys.stdout.flush()
    if oss_used and not ask.quiet:
        _notice(
            f"oss:// references last 48 hours and work only with {model}, in requests that send "
            "the header X-DashScope-OssResourceResolve: enable",
            color=_color(ask),
        )


def _notice_sent(s: Sent, color: bool) -> None:
    line = sent_note(s)
    if line:
        _notice(line, color)


def sent_note(s: Sent) -> str | None:
    """What to tell the user about a file once sent (nothing for an inline image)."""
    a = s.attachment
    if s.via == "file":
        return f"uploaded {a.shown} as {s.file_id} (remove it with: qwen upload --delete {s.file_id})"
    if s.via == "oss":
        return f"uploaded {a.shown} to {s.url} (kept 48 hours)"
    return None


def _color(ask: o.Ask) -> bool:
    plain = ask.no_color or "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb"
    return sys.stderr.isatty() and not plain


def _notice(text: str, color: bool) -> None:
    from qwen_cli import render

    render.print_notice(text, err=sys.stderr, color=color, style="dim")


# --------------------------------------------------------------------------- --list, --delete


def _manage(ask: o.Ask, list_files: bool, delete: list[str]) -> None:
    settings = _settings(ask)
    _dashscope_only(settings, "qwen upload --list" if list_files else "qwen upload --delete")
    files_api = _files_api(settings)
    with files_api.client:
        if list_files:
            _print_list(files_api.list(), ask)
            return
        for file_id in delete:
            files_api.delete(file_id)
            if not ask.quiet:
                _notice(f"deleted {file_id}", color=_color(ask))


def _when(ts: int | None) -> str:
    if not ts:
        return "-"
    from datetime import datetime

    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _print_list(items: list[FileObject], ask: o.Ask) -> None:
    if ask.json:
        data = jsonlib.dumps([f.model_dump(mode="json") for f in items], ensure_ascii=False)
        sys.stdout.write(shown(data + "\n", sys.stdout, json=True))
        return
    if not items:
        if not ask.quiet:
            _notice("no uploaded files", color=_color(ask))
        return
    rows = [
        (
            f.id,
            str(f.bytes if f.bytes is not None else "-"),
            _when(f.created_at),
            f.filename or "-",
            f.purpose or "-",
            f.status or "-",
        )
        for f in items
    ]
    if not sys.stdout.isatty():
        sys.stdout.write("".join("\t".join(r) + "\n" for r in rows))
        return
    # A terminal gets a table fitted to its width: ids are copied into other commands, so they
    # are never cut; a long name gives way with an ellipsis, then purpose, status, creation time
    # and size go, in that order. The server's names and ids never drive the terminal.
    from qwen_cli.attachments import human_size
    from qwen_cli.cli.tables import print_table

    table = [
        (r[0], human_size(f.bytes) if f.bytes is not None else "-", r[2], r[4], r[5], r[3])
        for f, r in zip(items, rows, strict=True)
    ]
    print_table(
        ("id", "size", "created", "purpose", "status", "name"),
        table,
        right=(1,),
        wide=5,
        drop=(3, 4, 2, 1),
        color=_color(ask),
    )
