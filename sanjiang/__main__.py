"""``python -m sanjiang`` is the ``sanjiang`` command."""

from sanjiang.cli import main

main()
