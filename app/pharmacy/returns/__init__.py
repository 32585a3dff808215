"""After-sale quality returns (药品质量问题退货) of handed-over orders: opened by the patient or the
store with a reason, decided by the store's pharmacist, the boxes checked back in by their
traceability codes, then the settlement reversed and the personal share refunded."""
