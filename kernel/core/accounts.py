"""Account and actor core functions (balance, transfer, deploy, call ...): the state issue."""
