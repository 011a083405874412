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


class BudgetError(SitewatchError):
    """The fleet's shared politeness budget (Redis) failed during a scan: the scan stops instead of going on without
    it (an unshared limiter would break the per-host budget every process keeps to); the message names the Redis."""
