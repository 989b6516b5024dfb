"""Ways to diverge from the data, one module per category of Broad et al.'s survey (ICCC 2021)."""
