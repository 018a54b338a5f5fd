"""One module per rule. Each module's docstring is what ``lossdoc explain RULE`` prints."""
