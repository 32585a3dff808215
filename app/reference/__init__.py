"""Reference data of the pilot city: districts, institutions, pharmacy stores, diseases, drugs."""
