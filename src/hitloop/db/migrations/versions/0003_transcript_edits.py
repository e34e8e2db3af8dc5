"""transcript edits measured when a transcript is submitted

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Transcripts answered before this revision have no row: the project's statistics
    # measure them on each read, in memory (hitloop.services.speech.transcript_stats).
    op.create_table(
        "transcript_edits",
        sa.Column("annotation_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("words", sa.Integer(), nullable=False),
        sa.Column("word_errors", sa.Integer(), nullable=False),
        sa.Column("keystrokes_typed", sa.Integer(), nullable=False),
        sa.Column("keystrokes_corrected", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["annotation_id"], ["annotations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("annotation_id"),
    )
    with op.batch_alter_table("transcript_edits", schema=None) as batch_op:
        batch_op.create_index("ix_transcript_edits_project", ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("transcript_edits", schema=None) as batch_op:
        batch_op.drop_index("ix_transcript_edits_project")
    op.drop_table("transcript_edits")
