"""Consensus: CPoS orders, beliefs and the belief merge, as pure logic (no I/O, no clock).
May import kernel's data and state layers; nothing in kernel imports it."""
