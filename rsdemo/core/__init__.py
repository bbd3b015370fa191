"""The leaf layer: errors, settings, runtime, seeding, input checks, the load cache, the disk budget, the registry.

Nothing here imports anything above it (``lint-imports`` checks the layering on every test run).
"""
