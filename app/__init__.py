"""Online chronic-disease care backend (platform + hospital + pharmacy)."""
