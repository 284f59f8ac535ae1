"""The command line (`citebot`): `main` lists the commands, each module of this package
registers and runs its own (`context` is what they share)."""
