"""The `softcollect` command."""
