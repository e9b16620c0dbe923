"""Running the platform: is it alive and ready, what it is doing (Prometheus metrics), and the
request id and timing of every request. See docs/operations.md."""
