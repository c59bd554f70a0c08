"""The console: server-rendered pages for communication officers and head teachers."""
