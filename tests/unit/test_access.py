"""Access without the API: roles and scopes, staff accounts and passwords, tokens, login limits
(SQLite in a temporary folder, real argon2 and real JWTs)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path

import jwt
import orjson
import pytest

from api.access.roles import ROLES, Caller, Grant
from api.access.throttle import LoginThrottle, ThrottlePolicy
from api.access.tokens import TokenError, TokenIssuer
from api.access.users import UserError, UserStore, connect

KEY = bytes(range(32))
PASSWORD = "correct horse battery"


@pytest.fixture
def users(tmp_path: Path) -> UserStore:
    return UserStore(connect(tmp_path / "staff.db"))


def test_roles_grant_what_the_issue_lists() -> None:
    viewer = Caller.staff("v", "viewer", None, "token")
    assert viewer.can(Grant.READ) and not viewer.can(Grant.SQL) and not viewer.can(Grant.INGEST)
    analyst = Caller.staff("a", "analyst", ["WS-R03"], "token")
    assert analyst.can(Grant.SQL) and analyst.sees_network  # analysts see the whole network
    admin = Caller.staff("root", "admin", None, "session")
    assert admin.can(Grant.ADMIN) and not admin.can(Grant.SQL) and admin.sees_network
    operator = Caller.staff("o", "operator", ["WS-R03"], "token")
    assert operator.sees("WS-R03") and not operator.sees("WS-R07") and not operator.sees_network
    kiosk = Caller.device("kiosk", "K1", "WS-R03")
    assert kiosk.grants == {Grant.INGEST, Grant.COMMAND} and not kiosk.can(Grant.READ)
    console = Caller.device("console", "C1", "WS-R03")
    assert console.can(Grant.READ) and not console.can(Grant.SQL) and not console.sees_network
    assert not console.can(Grant.COMMAND)  # staff decide with their own accounts
    assert operator.can(Grant.COMMAND) and not viewer.can(Grant.COMMAND)
    assert not analyst.can(Grant.COMMAND) and admin.can(Grant.COMMAND)
    key = Caller.device("analyst", "alice", "WS-C")
    assert key.can(Grant.SQL) and key.sees_network
    assert set(ROLES) == {"viewer", "operator", "manager", "analyst", "admin"}


def test_accounts_passwords_and_their_rules(users: UserStore) -> None:
    user = users.add("wang.li", "manager", PASSWORD, ["WS-R03", "WS-R04"])
    assert user.stations == ("WS-R03", "WS-R04") and user.active
    assert users.verify("wang.li", PASSWORD) == user
    assert users.verify("wang.li", "wrong password!") is None
    assert users.verify("nobody", PASSWORD) is None
    bad: Callable[[], object]
    for bad in (
        lambda: users.add("wang.li", "viewer", PASSWORD),  # exists
        lambda: users.add("Wang Li", "viewer", PASSWORD),  # not a username
        lambda: users.add("zhao", "boss", PASSWORD),  # no such role
        lambda: users.add("zhao", "viewer", "short"),  # too short
        lambda: users.add("zhaozhaozhao", "viewer", "zhaozhaozhao"),  # the username
        lambda: users.add("zhao", "operator", PASSWORD),  # an operator needs stations
    ):
        with pytest.raises(UserError):
            bad()
    assert users.add("li", "analyst", PASSWORD, ["WS-R03"]).stations is None  # network role
    (stored,) = users._db.execute("SELECT password_hash FROM users WHERE username='wang.li'")
    assert stored[0].startswith("$argon2") and PASSWORD not in stored[0]


def test_disable_and_password_change_raise_the_token_version(users: UserStore) -> None:
    first = users.add("zhang", "viewer", PASSWORD)
    users.set_password("zhang", "another good password")
    assert users.verify("zhang", PASSWORD) is None
    changed = users.verify("zhang", "another good password")
    assert changed is not None and changed.token_version == first.token_version + 1
    users.disable("zhang")
    assert users.verify("zhang", "another good password") is None
    disabled = users.get("zhang")
    assert disabled is not None and not disabled.active
    assert disabled.token_version == first.token_version + 2
    users.enable("zhang")
    assert users.verify("zhang", "another good password") is not None
    with pytest.raises(UserError):
        users.disable("nobody")


def test_tokens_refuse_expiry_tampering_other_purposes_and_other_algorithms() -> None:
    issuer = TokenIssuer(KEY)
    token, claims = issuer.issue("zhang", 3, "access", ttl_s=60, now=1_000_000)
    assert issuer.verify(token, "access", now=1_000_030).username == "zhang"
    assert claims.csrf is None and claims.version == 3
    with pytest.raises(TokenError, match="expired"):
        issuer.verify(token, "access", now=1_000_060)
    with pytest.raises(TokenError, match="not a session"):
        issuer.verify(token, "session", now=1_000_030)
    with pytest.raises(TokenError):
        TokenIssuer(bytes(32)).verify(token, "access", now=1_000_030)  # another key
    header, payload, signature = token.split(".")
    forged = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    forged["sub"] = "admin"
    forged_payload = base64.urlsafe_b64encode(orjson.dumps(forged)).rstrip(b"=").decode()
    with pytest.raises(TokenError):
        issuer.verify(f"{header}.{forged_payload}.{signature}", "access", now=1_000_030)
    unsigned = jwt.encode({**forged, "typ": "access"}, key="", algorithm="none")
    with pytest.raises(TokenError):
        issuer.verify(unsigned, "access", now=1_000_030)
    session, session_claims = issuer.issue("zhang", 3, "session", ttl_s=60)
    assert issuer.verify(session, "session").csrf == session_claims.csrf
    renewed, renewed_claims = issuer.issue("zhang", 3, "session", 60, csrf=session_claims.csrf)
    assert renewed_claims.csrf == session_claims.csrf and renewed != session
    with pytest.raises(ValueError, match="32 bytes"):
        TokenIssuer(b"short")


def test_failed_logins_are_limited_per_account_and_per_address(users: UserStore) -> None:
    throttle = LoginThrottle(users._db, ThrottlePolicy(window_s=60, per_account=3, per_address=5))
    now = time.time()
    for _ in range(3):
        assert throttle.retry_after("zhang", "10.0.0.1", now) is None
        throttle.failed("zhang", "10.0.0.1", now)
    wait = throttle.retry_after("zhang", "10.0.0.2", now + 1)
    assert wait is not None and 58 <= wait <= 60  # the account is locked from any address
    assert throttle.retry_after("li", "10.0.0.2", now + 1) is None
    throttle.failed("li", "10.0.0.1", now)
    throttle.failed("wu", "10.0.0.1", now)  # five failures from one address, three accounts
    assert throttle.retry_after("zhao", "10.0.0.1", now + 1) is not None
    assert throttle.retry_after("zhang", "10.0.0.2", now + 61) is None  # the window moved on
    throttle.succeeded("li")
    assert throttle.retry_after("li", "10.0.0.3", now + 1) is None
