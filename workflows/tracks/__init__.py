"""One module per track of the plan; each holds its decisions' guards and effects and the
documents it sends. The decision table (workflows/decision_table.py) lists them all."""
