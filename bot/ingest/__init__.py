"""Reading a corpus folder into articles and passages."""
