"""A block with einsum over the template axis (any kernel shape)."""
# replaces: def block(templates, coefs, b):
# expect: full


def block(templates, coefs, b):
    return torch.einsum("k,k...->...", coefs[b], templates[b % 2])
