"""Orders after they are placed: the delivery state machine, traceability scanning, couriers,
live tracking with ETA, one-time hand-over codes and the cold chain."""
