"""Errors raised for bad user input; the CLI prints them in one line and exits 2."""


class InputError(Exception):
    """Bad input: the message names the file or config key and what to do."""
