"""Everything that touches the world: the register, the outbox, the inventory, risk scoring."""
