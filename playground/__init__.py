"""Backpressure Playground: watch an async service take load."""
