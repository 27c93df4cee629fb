#!/usr/bin/env python
"""The signup demo's manage.py (``./dev manage ...`` runs it in the project's .venv)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
