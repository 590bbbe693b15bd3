"""Benchmark and data-generation tools: imported only by the commands that run them, never by a web worker."""
