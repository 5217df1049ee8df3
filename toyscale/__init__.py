"""toyscale: solvable toy models of neural scaling laws."""
__version__ = "0.1.0"
