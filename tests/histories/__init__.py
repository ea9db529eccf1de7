"""Committed workflow histories of the shipped exercises, for the replay test."""
