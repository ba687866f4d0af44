"""Grid rebalancing (网格优化调整): the engine, blocks, plans from its results."""
