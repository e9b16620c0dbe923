"""Participation: citizens' ideas with their moderation, and participation procedures on the map."""
