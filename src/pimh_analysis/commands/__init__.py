"""Sub-commands of ``pimh``: one module per command, each exposing ``register(subparsers)``.

Keep imports of heavy libraries inside each command's handler so that
``pimh --help`` stays fast.
"""
