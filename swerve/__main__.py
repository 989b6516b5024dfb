"""``python -m swerve`` runs the command-line interface."""

from swerve.cli.main import main

main()
