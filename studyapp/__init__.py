"""studyapp: a terminal study app for a course on fine-tuning language models."""

__version__ = "0.1.0"
