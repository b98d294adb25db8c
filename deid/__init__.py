"""deid: conceal what makes a person re-identifiable, checked against a re-id adversary."""

__all__: list[str] = []
