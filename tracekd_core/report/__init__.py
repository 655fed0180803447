"""Tables, figures and notebook execution for the book (reads what the pipeline wrote)."""
