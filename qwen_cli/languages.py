"""The languages Qwen-MT translates: their English names (what the API takes) and codes.

Source: the "Supported languages" table of Alibaba Cloud Model Studio's Qwen-MT page
(help/en/model-studio/machine-translation, 92 languages; the API takes "the English name or
the Code"). The list was transcribed by hand and is not checked against the live service: a
name the service does not know comes back as the server's own 400, never a silent guess.

``resolve("indonesian")``, ``resolve("id")`` and ``resolve("Indonesian")`` all give
``"Indonesian"``; an unknown name is a :class:`~qwen_cli.errors.UsageError` naming the
closest known ones.
"""

from __future__ import annotations

import difflib

from qwen_cli.errors import UsageError

AUTO = "auto"

# (English name, code), in the order of the documentation's table.
LANGUAGES: tuple[tuple[str, str], ...] = (
    ("English", "en"),
    ("Chinese", "zh"),
    ("Traditional Chinese", "zh_tw"),
    ("Russian", "ru"),
    ("Japanese", "ja"),
    ("Korean", "ko"),
    ("Spanish", "es"),
    ("French", "fr"),
    ("Portuguese", "pt"),
    ("German", "de"),
    ("Italian", "it"),
    ("Thai", "th"),
    ("Vietnamese", "vi"),
    ("Indonesian", "id"),
    ("Malay", "ms"),
    ("Arabic", "ar"),
    ("Hindi", "hi"),
    ("Hebrew", "he"),
    ("Burmese", "my"),
    ("Tamil", "ta"),
    ("Urdu", "ur"),
    ("Bengali", "bn"),
    ("Polish", "pl"),
    ("Dutch", "nl"),
    ("Romanian", "ro"),
    ("Turkish", "tr"),
    ("Khmer", "km"),
    ("Lao", "lo"),
    ("Cantonese", "yue"),
    ("Czech", "cs"),
    ("Greek", "el"),
    ("Swedish", "sv"),
    ("Hungarian", "hu"),
    ("Danish", "da"),
    ("Finnish", "fi"),
    ("Ukrainian", "uk"),
    ("Bulgarian", "bg"),
    ("Serbian", "sr"),
    ("Telugu", "te"),
    ("Afrikaans", "af"),
    ("Armenian", "hy"),
    ("Assamese", "as"),
    ("Asturian", "ast"),
    ("Basque", "eu"),
    ("Belarusian", "be"),
    ("Bosnian", "bs"),
    ("Catalan", "ca"),
    ("Cebuano", "ceb"),
    ("Croatian", "hr"),
    ("Egyptian Arabic", "arz"),
    ("Estonian", "et"),
    ("Galician", "gl"),
    ("Georgian", "ka"),
    ("Gujarati", "gu"),
    ("Icelandic", "is"),
    ("Javanese", "jv"),
    ("Kannada", "kn"),
    ("Kazakh", "kk"),
    ("Latvian", "lv"),
    ("Lithuanian", "lt"),
    ("Luxembourgish", "lb"),
    ("Macedonian", "mk"),
    ("Maithili", "mai"),
    ("Maltese", "mt"),
    ("Marathi", "mr"),
    ("Mesopotamian Arabic", "acm"),
    ("Moroccan Arabic", "ary"),
    ("Najdi Arabic", "ars"),
    ("Nepali", "ne"),
    ("North Azerbaijani", "az"),
    ("North Levantine Arabic", "apc"),
    ("Northern Uzbek", "uz"),
    ("Norwegian Bokmål", "nb"),
    ("Norwegian Nynorsk", "nn"),
    ("Occitan", "oc"),
    ("Odia", "or"),
    ("Pangasinan", "pag"),
    ("Sicilian", "scn"),
    ("Sindhi", "sd"),
    ("Sinhala", "si"),
    ("Slovak", "sk"),
    ("Slovenian", "sl"),
    ("South Levantine Arabic", "ajp"),
    ("Swahili", "sw"),
    ("Tagalog", "tl"),
    ("Ta'izzi-Adeni Arabic", "acq"),
    ("Tosk Albanian", "sq"),
    ("Tunisian Arabic", "aeb"),
    ("Venetian", "vec"),
    ("Waray", "war"),
    ("Welsh", "cy"),
    ("Western Persian", "fa"),
)

# Names people type for a language the table calls otherwise.
ALIASES: dict[str, str] = {
    "simplified chinese": "Chinese",
    "mandarin": "Chinese",
    "zh-cn": "Chinese",
    "zh-tw": "Traditional Chinese",
    "persian": "Western Persian",
    "farsi": "Western Persian",
    "albanian": "Tosk Albanian",
    "azerbaijani": "North Azerbaijani",
    "uzbek": "Northern Uzbek",
    "norwegian": "Norwegian Bokmål",
    "filipino": "Tagalog",
}

_BY_KEY: dict[str, str] = {}
for _name, _code in LANGUAGES:
    _BY_KEY[_name.lower()] = _name
    _BY_KEY[_code.lower()] = _name
_BY_KEY.update(ALIASES)


def names() -> list[str]:
    """The English names, as the API takes them."""
    return [name for name, _ in LANGUAGES]


def resolve(value: str, *, flag: str = "--to", allow_auto: bool = False) -> str:
    """The English name the API takes for ``value`` (a name, a code or an alias, any case).

    ``auto`` (detect the source language) only where ``allow_auto``.
    """
    key = " ".join(value.split()).lower()
    if allow_auto and key == AUTO:
        return AUTO
    found = _BY_KEY.get(key)
    if found is not None:
        return found
    close = difflib.get_close_matches(key, list(_BY_KEY), n=4, cutoff=0.6)
    suggestions = list(dict.fromkeys(_BY_KEY[c] for c in close))
    said = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
    raise UsageError(
        f"{flag}: unknown language {value.strip()!r}{said}",
        hint="give an English name (Indonesian) or a code (id); `qwen translate --languages` lists all "
        f"{len(LANGUAGES)}",
    )
