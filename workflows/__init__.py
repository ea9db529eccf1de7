"""Deterministic workflow code: the breach case's state machine and its clock arithmetic."""
