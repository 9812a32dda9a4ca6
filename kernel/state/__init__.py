"""The global state as values: State, accounts, peers, transactions, blocks and results (CAD3 records).

Imports only kernel.data: what the network agrees on, without the machine that computes it.
"""
