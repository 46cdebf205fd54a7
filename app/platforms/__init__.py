"""Platform adapters, one package each (see app.engine.platform)."""
