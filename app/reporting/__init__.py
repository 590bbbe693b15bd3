"""Figures: report rows, rollups, analytics, charts, CSV and PDF exports."""
