"""`python -m scorec ...` is `scorec ...`."""

from .cli import main

main()
