# fish completion for qwen, generated from its typer app (`qwen --show-completion`);
# regenerate with `python completions/generate.py`, a test checks it is current.
# Install: copy it to ~/.config/fish/completions/qwen.fish.
complete --command qwen --no-files --arguments "(env _QWEN_COMPLETE=complete_fish _TYPER_COMPLETE_FISH_ACTION=get-args _TYPER_COMPLETE_ARGS=(commandline -cp) qwen)" --condition "env _QWEN_COMPLETE=complete_fish _TYPER_COMPLETE_FISH_ACTION=is-args _TYPER_COMPLETE_ARGS=(commandline -cp) qwen"
