"""Running the platform: metrics for Prometheus, backups with restore drills."""
