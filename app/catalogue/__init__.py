"""The versioned, effective-dated chronic-disease catalogue and its annual limits."""
