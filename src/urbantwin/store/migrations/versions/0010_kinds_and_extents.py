"""Organisation kinds that tell the levels of authority apart, and collection extents that shrink.

The kinds of earlier versions are renamed (`administration` becomes `local-authority`, which it
was in every store seen; a state or federal agency is given its kind afterwards with `urbantwin
org set`). Collections get `extent_version`, the version their extent was right at: none yet, so
every extent is computed from the features present at its first read (store/extents.py).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 04:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

#: The kinds as they were named before, and as they are named now (fixed here: a migration keeps
#: the names of its time).
RENAMED = {
    "administration": "local-authority",
    "municipal_company": "municipal-company",
    "science": "research",
    "business": "company",
    "civil_society": "ngo",
}


def _rename(names: dict[str, str]) -> None:
    organisations = sa.table("organisations", sa.column("kind", sa.Text))
    for old, new in names.items():
        op.execute(organisations.update().where(organisations.c.kind == old).values(kind=new))


def upgrade() -> None:
    op.add_column("collections", sa.Column("extent_version", sa.Integer(), nullable=True))
    _rename(RENAMED)


def downgrade() -> None:
    # Kinds without a former name (regional-authority, …) become the nearest former one.
    _rename({new: old for old, new in RENAMED.items()})
    _rename(
        {
            "regional-authority": "administration",
            "national-authority": "administration",
            "supranational-authority": "administration",
            "non-profit": "civil_society",
            "industry-consortium": "business",
            "standardisation-body": "civil_society",
            "private-individual": "civil_society",
        }
    )
    with op.batch_alter_table("collections") as batch:
        batch.drop_column("extent_version")
