"""One module per subcommand; each has ``register(subparsers)`` that sets ``func``.

A command module imports the library inside its ``cmd_*`` function (lazy: heavy dependencies), so that a run
loads what its own command uses and nothing else (see ``cli.build_parser``). Library code never imports a
command module.
"""
