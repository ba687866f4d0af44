"""Benchmarks: commands that print figures (speed, memory). Not part of the test suite."""
