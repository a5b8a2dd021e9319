"""Data-subject rights: export, erasure, rectification, restriction, objection, requests."""
