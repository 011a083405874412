"""Errors a user can act on. The CLI prints them on one line and exits with code 2 (1 for ``StoreError``)."""


class SitewatchError(Exception):
    """Base class for errors reported to the user as one line."""


class UsageError(SitewatchError):
    """Bad command-line input."""


class ConfigError(SitewatchError):
    """A config file or rule pack is invalid; the message names the file and the key."""


class StoreError(SitewatchError):
    """The database failed during a scan (locked beyond the lock wait, disk full, connection lost): the scan is
    marked failed and the command exits with code 1."""
