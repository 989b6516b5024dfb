"""Divergence: methods that take a model away from its data, one module (or package) per survey category."""
