"""The stream app: the Faust app, every topic and every table, named in one place."""
