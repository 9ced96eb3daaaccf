"""Objectives: pure loss math in functional.py; each objective trains any model that fits it."""
