"""attribution: explain what drives a re-identification match, with Captum."""

__all__: list[str] = []
