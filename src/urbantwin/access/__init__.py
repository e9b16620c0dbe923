"""Who may see or change what: the one policy decision point every API asks."""
