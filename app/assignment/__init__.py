"""Assignment: the engine that picks a patient's doctor, the consultation queue, hand-overs."""
