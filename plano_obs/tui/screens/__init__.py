"""The console's screens: main, call detail, session, help and confirm."""
