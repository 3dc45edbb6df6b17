"""Statistics, tables and figures of the LCS paper's experiments."""
