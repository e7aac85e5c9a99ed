"""apimachinery layer."""
