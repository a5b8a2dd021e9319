"""personakit adapter for Django (planned: a thin layer between requests and the kit)."""
