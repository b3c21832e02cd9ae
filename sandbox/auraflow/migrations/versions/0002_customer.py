"""Every release accepts this revision: an optional customer on each order."""
import sqlalchemy as sa
from alembic import op

revision = "0002_customer"
down_revision = "0001_base"


def upgrade():
    op.add_column("orders", sa.Column("customer", sa.Text, nullable=True))


def downgrade():
    op.drop_column("orders", "customer")
