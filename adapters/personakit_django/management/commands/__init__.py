"""``manage.py personakit``."""
