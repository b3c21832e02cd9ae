"""Alembic environment of the sandbox database; the URL comes from tools/migrate.py, never a file."""
from alembic import context
from sqlalchemy import create_engine

url = context.config.get_main_option("sqlalchemy.url")
if url is None:
    raise RuntimeError("sqlalchemy.url is not set: run the migrations through sandbox.migrate")
engine = create_engine(url, connect_args={"connect_timeout": 5})
with engine.connect() as connection:
    context.configure(connection=connection, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
