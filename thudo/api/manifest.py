"""This domain's entries in the registry."""
