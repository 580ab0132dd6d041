"""Source clients: a live and a replay implementation per source, behind one interface."""
