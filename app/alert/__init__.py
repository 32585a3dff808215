"""Live alerts from incoming readings: rules, episodes, delivery to doctors, acknowledgement."""
