"""District profiles and public-transport access per district (docs/districts.md)."""
