"""personakit adapter for Flask (planned: a thin layer between requests and the kit)."""
