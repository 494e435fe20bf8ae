"""The account a gradual deploy's pre-traffic check reads as (services/system/deployment_checks.py).

Made on first use with a password nobody knows, so that only the check's own sessions ever use it.
"""

from __future__ import annotations

import secrets

from investment_system.db import unit_of_work
from investment_system.db.base import utcnow
from investment_system.errors import Conflict
from investment_system.repositories.accounts.users import UserRepository
from investment_system.services.accounts.credentials import register_user
from investment_system.services.accounts.login_sessions import start_session

DEPLOY_CHECK_EMAIL = "deploy-check@example.com"


def deploy_check_access_token() -> str:
    """An access token of a new session of the deploy check's account."""
    with unit_of_work() as session:
        exists = UserRepository(session).by_email(DEPLOY_CHECK_EMAIL) is not None
    if not exists:
        try:
            with unit_of_work() as session:
                register_user(
                    session, email=DEPLOY_CHECK_EMAIL, password=secrets.token_urlsafe(48), full_name="Deploy check"
                )
        except Conflict:
            pass  # another deploy's check made it meanwhile
    with unit_of_work() as session:
        user = UserRepository(session).by_email(DEPLOY_CHECK_EMAIL)
        if user is None:
            raise RuntimeError("the deploy check's account could not be made")
        return start_session(session, user, now=utcnow()).access_token
