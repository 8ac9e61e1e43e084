"""Tenant scope: the one place that decides which merchant's data a caller may see.

Every query of the web app takes a :class:`Scope`; the routes get it from the
``scope_of`` dependency, never build one themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from posfleet.web.accounts import User


@dataclass(frozen=True, slots=True)
class Scope:
    """``merchant`` None: the whole fleet (IT); else only that merchant's data."""

    merchant: str | None

    @classmethod
    def of(cls, user: User) -> Scope:
        if user.is_it:
            return cls(None)
        if not user.merchant_id:
            # A merchant user without a merchant sees nothing rather than everything.
            return cls("\x00none")
        return cls(user.merchant_id)

    def allows(self, merchant_id: str | None) -> bool:
        return self.merchant is None or merchant_id == self.merchant

    def narrow(self, wanted: str | None) -> str | None:
        """The merchant filter of a query that asked for ``wanted`` (IT may pick any)."""
        return wanted if self.merchant is None else self.merchant
