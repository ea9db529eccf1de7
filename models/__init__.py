"""Domain models: pydantic models shared by every layer, and the register's SQLModel tables.

Nothing here imports workflows/, activities/, worker/ or starter/.
"""
