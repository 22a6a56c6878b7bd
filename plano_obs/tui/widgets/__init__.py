"""One module per panel of the console."""
