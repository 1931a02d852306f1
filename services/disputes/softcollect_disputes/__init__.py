"""softcollect disputes service: dispute cases with SLAs, and the litigation-risk early warning."""
