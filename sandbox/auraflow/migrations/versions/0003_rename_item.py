"""The bad migration no release accepts: it renames a column every API version reads.

A rename keeps every value, so the downgrade brings each row back intact.
"""
from alembic import op

revision = "0003_rename_item"
down_revision = "0002_customer"


def upgrade():
    op.alter_column("orders", "item", new_column_name="item_name")


def downgrade():
    op.alter_column("orders", "item_name", new_column_name="item")
