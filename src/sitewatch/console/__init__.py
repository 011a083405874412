"""The web console (``sitewatch serve``, docs/console.md): accounts and roles, sessions, the audit log and the pages.

Needs the ``console`` extra (``pip install "sitewatch[console]"``: Starlette, uvicorn, argon2-cffi,
python-multipart). This package imports nothing itself; ``accounts`` and ``audit`` load no web framework (the
``user`` commands use them), ``app`` builds the Starlette application.
"""

EXTRA = 'pip install "sitewatch[console]"'
# the modules the console needs beyond the default install (import name, distribution)
NEEDS = (("starlette", "starlette"), ("uvicorn", "uvicorn"), ("argon2", "argon2-cffi"),
         ("python_multipart", "python-multipart"))


def missing() -> list[str]:
    """The distributions of the ``console`` extra that cannot be imported (none when it is installed)."""
    import importlib  # lazy: only asked by the commands that need the extra

    out = []
    for module, dist in NEEDS:
        try:
            importlib.import_module(module)
        except ImportError:
            out.append(dist)
    return out
