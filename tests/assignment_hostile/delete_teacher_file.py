"""Deletes a file of the teacher's outside the grading folder."""
import os

os.remove(SENTINEL)
