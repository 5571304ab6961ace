"""Application functions shared by the CLI and the TUI (no textual, no torch)."""
