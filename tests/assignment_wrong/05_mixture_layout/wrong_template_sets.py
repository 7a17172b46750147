"""Mixes W2 from member 1's templates and W3 from member 0's (template sets 0, 1, 1, 0 instead of
0, 1, 0, 1)."""
# replaces: def block(templates, coefs, b):
# expect: q1=1/2 q2=0/2 q3=2/2


def block(templates, coefs, b):
    s = (0, 1, 1, 0)[b]
    return torch.tensordot(coefs[b], templates[s], dims=1)
