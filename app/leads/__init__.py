"""Leads: intake, the pipeline (allocation, stages, amounts, deletion) and the lists and boards."""
