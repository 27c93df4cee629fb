"""The verbs of ``manage.py backroom``, one module each.

A verb module defines HELP, ``add_arguments(parser)`` and ``handle(command, **options)``,
which returns the exit code (None or 0 for success).
"""
