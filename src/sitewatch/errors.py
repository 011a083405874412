"""Errors a user can act on. The CLI prints them on one line and exits with code 2."""


class SitewatchError(Exception):
    """Base class for errors reported to the user as one line."""


class UsageError(SitewatchError):
    """Bad command-line input."""


class ConfigError(SitewatchError):
    """A config file or rule pack is invalid; the message names the file and the key."""
