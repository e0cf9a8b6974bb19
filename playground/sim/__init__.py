"""The simulation engine: a deterministic, virtual-time model of the asyncio program a scenario stands for."""
