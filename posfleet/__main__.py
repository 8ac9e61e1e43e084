"""``python -m posfleet`` runs the CLI."""

from posfleet.cli import main

main()
