"""Applying transactions and blocks to a State: fees, juice, memory, results, scheduled operations and the block ledger.
Imports kernel.data, kernel.state, kernel.cvm and kernel.core; the compiler only through kernel.cvm.lang."""
from __future__ import annotations

from kernel.transition.block import (MAX_TRANSACTIONS_PER_BLOCK, advance, apply_block,
                                     apply_block_outcomes, check_block, distribute_fees,
                                     gc_paused, local_peer)
from kernel.transition.overlay import apply_checked
from kernel.transition.schedule import MAX_SCHEDULED_PER_BLOCK, apply_scheduled, apply_time
from kernel.transition.transaction import (TRACE_TEXT_LIMIT, Outcome, apply_signed,
                                           apply_transaction, transaction_juice)

__all__ = ["Outcome", "apply_signed", "apply_transaction", "transaction_juice", "TRACE_TEXT_LIMIT",
           "apply_time", "apply_scheduled", "MAX_SCHEDULED_PER_BLOCK", "apply_block",
           "apply_block_outcomes", "advance", "distribute_fees", "check_block", "local_peer",
           "gc_paused", "MAX_TRANSACTIONS_PER_BLOCK", "apply_checked"]
