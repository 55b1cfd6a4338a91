"""The manager as the handles' ``Lender``: each call goes to this process's
:class:`~spanner_pools.lending.Lending`, looked up at the call (a handle may outlive a fork)."""

from __future__ import annotations

from ._manager_base import ManagerBase
from .errors import PoolUnavailable
from .handle import Loan

__all__ = ["LenderPart"]


class LenderPart(ManagerBase):
    """The :class:`~spanner_pools.handle.Lender` methods of
    :class:`~spanner_pools.manager.PoolManager`."""

    def lend(self) -> Loan:
        self.check_process()
        return self._proc.lending.lend()

    def give_back(self, loan: Loan) -> None:
        self._proc.lending.give_back(loan)  # a loan of the parent's is not the child's: ignored

    def renew(self, loan: Loan) -> None:
        self._proc.lending.renew(loan)

    def abandoned(self, loan: Loan) -> None:
        self._proc.lending.abandoned(loan)

    def unavailable(self, exc: BaseException) -> PoolUnavailable:
        return self._proc.lending.unavailable(exc)

    def counted_unavailable(self, exc: PoolUnavailable) -> None:
        self._proc.lending.counted_unavailable(exc)
