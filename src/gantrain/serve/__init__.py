"""gantrain-serve's local web page (static/index.html) and the HTTP API behind it (app.py)."""
