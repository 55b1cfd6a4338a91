"""The notes site in Django: ``gunicorn example_site.django_site.wsgi``."""
