"""Benchmarks of spanner-pools against the Cloud Spanner emulator (scripts, not tests).

Run one with ``.venv/bin/python -m bench.<name>`` or all with ``bench/run_all.sh``; each
prints a table and rewrites its own section of ``BENCHMARKS.md``.
"""
