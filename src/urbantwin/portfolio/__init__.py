"""The city's project portfolio: projects with programme, funder, partners, funding and area."""
