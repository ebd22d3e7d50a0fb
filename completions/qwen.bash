# bash completion for qwen, generated from its typer app (`qwen --show-completion`);
# regenerate with `python completions/generate.py`, a test checks it is current.
# Install: source it from ~/.bashrc, or copy it to ~/.local/share/bash-completion/completions/qwen.
_qwen_completion() {
    local IFS=$'
'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" \
                   COMP_CWORD=$COMP_CWORD \
                   _QWEN_COMPLETE=complete_bash $1 ) )
    return 0
}

complete -o default -F _qwen_completion qwen
