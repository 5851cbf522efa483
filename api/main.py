"""`uvicorn api.main:app` entry point (settings from the environment)."""

from api.app import create_app

app = create_app()
