"""``qwen batch``: many requests at once, run here or on DashScope's Batch API."""
