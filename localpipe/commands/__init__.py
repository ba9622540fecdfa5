"""The command line of ``python -m localpipe``: ``cli.py`` parses, and each command has a module of its own."""
