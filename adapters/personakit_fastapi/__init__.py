"""personakit adapter for Fastapi (planned: a thin layer between requests and the kit)."""
