"""The composition root: builds each collaborator from the settings and hands them to
the app, the CLI and the demo. Nothing below imports it."""
