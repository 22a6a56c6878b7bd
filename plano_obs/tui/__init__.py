"""The live console (Textual). Only this package imports ``textual``."""
