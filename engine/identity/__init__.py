"""Identity: users, groups, roles, password hashing, tokens and login throttling (no Flask here)."""

from .credentials import Passwords
from .errors import LoginThrottled
from .service import IdentityService
from .views import DemoUser, GroupView, IssuedToken, OrgChartResult, Principal, TokenView, UserView

__all__ = [
    "DemoUser",
    "GroupView",
    "IdentityService",
    "IssuedToken",
    "LoginThrottled",
    "OrgChartResult",
    "Passwords",
    "Principal",
    "TokenView",
    "UserView",
]
