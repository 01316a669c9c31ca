"""Process components."""
