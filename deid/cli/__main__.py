"""``python -m deid.cli``: the ``deid`` command."""

from deid.cli.app import main

main()
