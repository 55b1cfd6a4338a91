"""A tiny Django project for the django_app tests and the gunicorn end-to-end test."""
