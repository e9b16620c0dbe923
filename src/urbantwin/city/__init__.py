"""Setting a platform up for a city from its profile (`urbantwin city init`)."""
