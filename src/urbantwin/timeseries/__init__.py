"""Time-series queries beyond the SensorThings standard (documented extensions at /api/timeseries/):
aggregates of a Datastream over calendar intervals, and the latest Observation of many Datastreams."""
