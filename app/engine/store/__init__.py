"""Persistence: the ORM models, the database connection, migrations and the DataStore."""
