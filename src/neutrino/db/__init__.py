"""Database: engine, transactions with retry, tables, migrations."""
