"""Graph tools: adjacency normalisation (adjacency.py), SWING similarity (swing.py) and
neighbour sampling from SWING lists (sampling.py)."""
