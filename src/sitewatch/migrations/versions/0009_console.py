"""The web console (issue 18): ``users`` (accounts, roles, argon2 password hashes), ``sessions`` (server-side
sessions: the token's hash, idle and absolute expiry, the CSRF secret), ``login_throttle`` (failed sign-ins per user
name and per client address, lock-outs) and ``audit_log`` (who did what and when). New tables only: no existing row
changes.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

c = sa.Column


def _users() -> None:
    op.create_table(
        "users", c("id", sa.Integer, primary_key=True),
        c("username", sa.Text, nullable=False), c("role", sa.String(20), nullable=False),
        c("unit", sa.Text, nullable=True), c("password_hash", sa.Text, nullable=False),
        c("disabled", sa.Boolean, nullable=False), c("created_at", sa.DateTime, nullable=False),
        c("updated_at", sa.DateTime, nullable=False), c("password_changed_at", sa.DateTime, nullable=False),
        c("last_login_at", sa.DateTime, nullable=True))
    op.create_index("ix_users_username", "users", ["username"], unique=True)


def _sessions() -> None:
    op.create_table(
        "sessions", c("id", sa.Integer, primary_key=True),
        c("token_hash", sa.String(64), nullable=False),
        c("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        c("created_at", sa.DateTime, nullable=False), c("last_seen_at", sa.DateTime, nullable=False),
        c("expires_at", sa.DateTime, nullable=False), c("csrf_secret", sa.String(64), nullable=False),
        c("address", sa.Text, nullable=False))
    op.create_index("ix_sessions_token_hash", "sessions", ["token_hash"], unique=True)
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])


def _login_throttle() -> None:
    op.create_table(
        "login_throttle", c("id", sa.Integer, primary_key=True),
        c("kind", sa.String(10), nullable=False), c("key", sa.Text, nullable=False),
        c("failures", sa.Integer, nullable=False), c("first_at", sa.DateTime, nullable=False),
        c("locked_until", sa.DateTime, nullable=True), c("lockouts", sa.Integer, nullable=False))
    op.create_index("ix_login_throttle_kind_key", "login_throttle", ["kind", "key"], unique=True)


def _audit_log() -> None:
    op.create_table(
        "audit_log", c("id", sa.Integer, primary_key=True),
        c("at", sa.DateTime, nullable=False), c("actor", sa.Text, nullable=False),
        c("role", sa.String(20), nullable=False), c("address", sa.Text, nullable=False),
        c("action", sa.String(60), nullable=False), c("target", sa.Text, nullable=False),
        c("detail", sa.JSON, nullable=False))
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


TABLES = {"users": _users, "sessions": _sessions, "login_throttle": _login_throttle, "audit_log": _audit_log}


def upgrade() -> None:
    have = set(sa.inspect(op.get_bind()).get_table_names())
    for name, create in TABLES.items():          # in order: sessions refer to users
        if name not in have:                     # (a store whose version was lost, made with the table, has it)
            create()


def downgrade() -> None:
    for name in reversed(list(TABLES)):
        op.drop_table(name)
