"""Pure domain: models and rules, free of Flask and of every Google library."""
