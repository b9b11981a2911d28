"""Answering a survey: the form a link opens, storing a submission, and the rollups."""
