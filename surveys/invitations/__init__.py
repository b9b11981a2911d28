"""Survey links: tokens made and stored as hashes, one at a time or from a roster file."""
