"""`qwen batch`: many requests from a file, planned, run locally (resumable), or on the Batch API.

inputs  reads JSONL, CSV or a directory of text files into :class:`~inputs.BatchItem` bodies
plan    counts, estimates tokens, cost per engine and time, and finds problems; sends nothing
ratelimit  rpm/tpm pacing and the back-off after a 429
state   each request's state for one output file, durable as each completes (SQLite)
cache   answers keyed by the exact body and server, for a re-run that costs nothing
local   the async runner on the client: concurrency, retries, output lines, counts

Nothing here prints: the command line (``qwen_cli.cli.batch``) shows progress and the summary.
"""
