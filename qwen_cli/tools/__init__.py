"""Tool calling: plain Python functions the model may call.

Modules, one job each: ``describe`` (a function -> an OpenAI tool definition), ``builtin``
(``now``, ``read_file``, ``fetch``), ``load`` (a ``--functions FILE.py``'s public functions,
``--tool NAME``), ``run`` (one call executed: arguments parsed, a timeout, errors as text for
the model) and ``loop`` (the Python API's ``client.chat.run``/``arun``). Nothing here prints.
"""
