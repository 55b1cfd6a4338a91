"""The example site: a small notes app served by Flask or Django over the same Spanner schema.

``python -m example_site.run`` (or ``scripts/demo``) starts an emulator, creates the schema
and serves the site under gunicorn; see docs/example.md.
"""
