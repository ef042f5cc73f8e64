"""A Django CRM whose leads climb sales ladders (commitladder.contrib.django)."""
