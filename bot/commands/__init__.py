"""The `bluezone-bot` subcommands, one module per subject; bot/cli.py puts them together."""
