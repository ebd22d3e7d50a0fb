"""`python -m qwen_cli`."""

from qwen_cli.cli import main_exit

main_exit()
