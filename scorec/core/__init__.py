"""The core every stage may use: expressions (their AST, parser and printers), diagnostics,
atomic file writes and the IR vocabulary components lower into. It imports no other part
of scorec."""
