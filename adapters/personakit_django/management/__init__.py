"""``manage.py`` commands of personakit_django."""
