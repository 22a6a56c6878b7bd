"""plano obs: a terminal observability console for LLM gateway traffic."""

__version__ = "0.1.0"

__all__ = ["__version__"]
