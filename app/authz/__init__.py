"""What a caller may see and do: the principal, role guards and query scopes."""
